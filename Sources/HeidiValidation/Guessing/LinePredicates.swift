/// Small, allocation-light tests on one trimmed line of code, used by the guesser's clue tables.
extension Substring {
    func startsWithAny(_ prefixes: [String]) -> Bool { prefixes.contains { hasPrefix($0) } }

    func containsAny(_ needles: [String]) -> Bool { needles.contains { contains($0) } }

    /// Whether `word` occurs with no identifier character directly before or after it.
    func containsWord(_ word: String) -> Bool {
        var searchStart = startIndex
        while let range = self[searchStart...].firstRange(of: word) {
            let before = range.lowerBound == startIndex ? nil : self[index(before: range.lowerBound)]
            let after = range.upperBound == endIndex ? nil : self[range.upperBound]
            if !(before?.isIdentifierCharacter ?? false) && !(after?.isIdentifierCharacter ?? false) { return true }
            searchStart = range.upperBound
        }
        return false
    }

    func containsAnyWord(_ words: [String]) -> Bool { words.contains { containsWord($0) } }

    /// A Python f-string: `f"…"` or `f'…'` not preceded by an identifier character.
    var hasFormatStringLiteral: Bool {
        var previous: Character?
        var iterator = makeIterator()
        var current = iterator.next()
        while let character = current {
            let next = iterator.next()
            if character == "f", next == "\"" || next == "'", !(previous?.isIdentifierCharacter ?? false) {
                return true
            }
            previous = character
            current = next
        }
        return false
    }

    /// `name = value`, `a, b = value`, `obj.attr[0] = value` with no declaration keyword, type or semicolon: how
    /// Python assigns.
    var isPlainAssignment: Bool {
        guard let range = firstRange(of: " = "), !hasSuffix(";"), !hasSuffix("{"), !hasSuffix(",") else { return false }
        let targets = self[..<range.lowerBound].split(separator: ",").map { $0.trimmed() }
        return !targets.isEmpty
            && targets.allSatisfy { target in
                guard let first = target.first, first.isLetter || first == "_" else { return false }
                return target.allSatisfy {
                    $0.isIdentifierCharacter || $0 == "." || $0 == "[" || $0 == "]" || $0 == "\"" || $0 == "'"
                }
            }
    }

    /// A line starting with a C or C++ type and then a name: `int main(`, `double* p`, `std::size_t n` excluded.
    var startsWithCType: Bool {
        for type in [
            "int", "void", "double", "float", "char", "bool", "long", "unsigned", "signed", "short", "size_t",
            "auto", "string", "int64_t", "uint64_t", "int32_t", "uint32_t", "uint8_t",
        ] where hasPrefix(type) {
            let rest = dropFirst(type.count)
            guard let separator = rest.first, separator == " " || separator == "*" || separator == "&" else { continue }
            let name = rest.drop { $0 == " " || $0 == "*" || $0 == "&" }
            if let first = name.first, first.isLetter || first == "_" { return true }
        }
        return false
    }

    /// `const x = …`, `let {a, b} = …`, `var y;`: a JavaScript declaration (C++'s `const int x` is not one).
    func isJavaScriptDeclaration(keywords: [String]) -> Bool {
        guard let keyword = keywords.first(where: { hasPrefix($0) }) else { return false }
        let rest = dropFirst(keyword.count)
        guard let first = rest.first else { return false }
        if first == "{" || first == "[" { return true }
        guard first.isLetter || first == "_" || first == "$" else { return false }
        let afterName = rest.drop { $0.isIdentifierCharacter || $0 == "$" }.drop { $0 == " " }
        if afterName.hasPrefix("==") { return false }
        return afterName.hasPrefix("=") || afterName.hasPrefix(";") || afterName.isEmpty
    }

    /// `export NAME=value`.
    var isShellExport: Bool {
        guard hasPrefix("export ") else { return false }
        let name = dropFirst("export ".count).prefix { $0.isUppercase || $0.isNumber || $0 == "_" }
        return !name.isEmpty && dropFirst("export ".count + name.count).first == "="
    }

    /// `.length` as a property (JavaScript), not `.length()` (C++).
    var containsJavaScriptLength: Bool {
        var searchStart = startIndex
        while let range = self[searchStart...].firstRange(of: ".length") {
            let after = range.upperBound == endIndex ? nil : self[range.upperBound]
            if after != "(" && !(after?.isIdentifierCharacter ?? false) { return true }
            searchStart = range.upperBound
        }
        return false
    }

    /// `[]int`, `[]*Node`: a Go slice type (not C++'s `[](…)` lambda or an empty list).
    var containsGoSliceType: Bool {
        var searchStart = startIndex
        while let range = self[searchStart...].firstRange(of: "[]") {
            if range.upperBound < endIndex {
                let after = self[range.upperBound]
                if after.isLetter || after == "*" { return true }
            }
            searchStart = range.upperBound
        }
        return false
    }

    /// `if err != nil {`, `for i := 0; i < n; i++ {`, `switch x {`: a Go control header, without parentheses.
    var isGoControlHeader: Bool {
        guard hasSuffix("{"),
            let keyword = ["if ", "for ", "switch ", "} else if ", "select "].first(where: { hasPrefix($0) })
        else {
            return false
        }
        return dropFirst(keyword.count).first != "("
    }
}

extension Character {
    /// A letter, digit or underscore.
    var isIdentifierCharacter: Bool { isLetter || isNumber || self == "_" }
}
