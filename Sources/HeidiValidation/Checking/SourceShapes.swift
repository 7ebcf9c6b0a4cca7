/// Python blocks copied out of a class or a function keep their indentation; Python rejects a file whose first
/// statement is indented, so the common leading whitespace is removed first (like `textwrap.dedent`).
enum PythonSource {
    static func dedented(_ code: String) -> String {
        let lines = FenceExtractor.lines(of: code)
        var common: Substring?
        for line in lines where !line.allSatisfy(\.isWhitespace) {
            let indentation = line.indentation
            guard let current = common else {
                common = indentation
                continue
            }
            common = current.prefix(zip(current, indentation).prefix { $0 == $1 }.count)
            if common?.isEmpty == true { break }
        }
        guard let prefix = common, !prefix.isEmpty else { return code }
        return lines.map { line in
            line.hasPrefix(prefix) ? String(line.dropFirst(prefix.count)) : String(line.trimmed().isEmpty ? "" : line)
        }.joined(separator: "\n")
    }
}

/// Go blocks are often fragments: declarations without a `package` clause, or bare statements. `gofmt` accepts
/// both only on standard input; for a file they are wrapped the way it wraps them, on the first line so that
/// the diagnostics' line numbers stay right.
enum GoSource {
    static let declarationsPrefix = "package main; "
    static let statementsPrefix = "package main; func _() { "

    /// Whether the first token after comments is `package`.
    static func hasPackageClause(_ code: String) -> Bool {
        var rest = Substring(code)
        while true {
            rest = rest.drop { $0.isWhitespace }
            if rest.hasPrefix("//") {
                rest = rest.drop { $0 != "\n" }
            } else if rest.hasPrefix("/*") {
                guard let end = rest.firstRange(of: "*/") else { return false }
                rest = rest[end.upperBound...]
            } else {
                return rest.hasPrefix("package") && rest.dropFirst("package".count).first?.isWhitespace == true
            }
        }
    }

    static func asDeclarations(_ code: String) -> String { declarationsPrefix + code }

    static func asStatements(_ code: String) -> String { statementsPrefix + code + "\n}" }
}

/// Node checks a `.js` file as CommonJS; a block with top-level `import` or `export` is an ES module and is checked
/// as `.mjs`.
enum JavaScriptSource {
    static func isModule(_ code: String) -> Bool {
        FenceExtractor.lines(of: code).contains { line in
            line.hasPrefix("import ") || line.hasPrefix("import{") || line.hasPrefix("export ")
                || line.hasPrefix("export{")
        }
    }
}
