/// Typed reading of a composed YAML document, with errors that name the file, line and dotted key. `Failure` is
/// the reader's own error type (heidid's `ConfigError`, heidi-collect's `YAMLFieldError`), made by `makeFailure`
/// from the line at fault (nil when unknown), the dotted key and the message.
public struct YAMLFields<Failure: Error>: Sendable {
    private let makeFailure: @Sendable (Int?, String, String) -> Failure

    public init(makeFailure: @escaping @Sendable (_ line: Int?, _ key: String, _ message: String) -> Failure) {
        self.makeFailure = makeFailure
    }

    /// The reader's error for `node` (nil when no node is at fault).
    public func fail(_ node: YAMLNode?, _ key: String, _ message: String) -> Failure {
        makeFailure(node?.line, key, message)
    }

    /// The document in `text` (nil when it is empty); a syntax error becomes the reader's error, with its line.
    public func document(_ text: String) throws(Failure) -> YAMLNode? {
        do throws(YAMLSyntaxError) { return try YAMLDocument.parse(text) } catch {
            throw makeFailure(error.line, "", "invalid YAML: \(error.message)\(Self.braceHint(text, near: error.line))")
        }
    }

    /// A hint for a syntax error on a line (or the one before it, where libyaml often notices late) with an
    /// unquoted `{name}`: YAML starts a mapping at an unquoted `{`, so `{repo_root}/x.py` is not text.
    static func braceHint(_ text: String, near line: Int?) -> String {
        guard let line else { return "" }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for index in [line - 1, line - 2] where lines.indices.contains(index) {
            if let word = YAMLNode.unquotedBraceWord(in: lines[index]) {
                return "; YAML reads an unquoted { as the start of a mapping: quote the value, e.g. \"\(word)\""
            }
        }
        return ""
    }

    /// The entries of a mapping as (dotted key, value, plain name), in file order.
    public func mapping(
        _ node: YAMLNode,
        _ prefix: String
    ) throws(Failure) -> [(key: String, value: YAMLNode, name: String)] {
        guard case .mapping(let entries) = node.content else {
            throw fail(node, prefix.isEmpty ? "(top level)" : prefix, "expected a mapping of keys to values")
        }
        var result: [(key: String, value: YAMLNode, name: String)] = []
        for (keyNode, value) in entries {
            guard let name = keyNode.scalar else { throw fail(keyNode, prefix, "keys must be plain strings") }
            result.append((prefix.isEmpty ? name : prefix + "." + name, value, name))
        }
        return result
    }

    /// The items of a sequence.
    public func sequence(_ node: YAMLNode, _ key: String) throws(Failure) -> [YAMLNode] {
        guard case .sequence(let items) = node.content else { throw fail(node, key, "expected a list") }
        return items
    }

    /// A scalar's text.
    public func string(_ node: YAMLNode, _ key: String) throws(Failure) -> String {
        guard let text = node.scalar else {
            throw fail(node, key, "expected a single value, got \(node.shapeDescription)")
        }
        return text
    }

    /// A list of strings, or one string standing for a list of one.
    public func strings(_ node: YAMLNode, _ key: String) throws(Failure) -> [String] {
        if let text = node.scalar { return [text] }
        var result: [String] = []
        for item in try sequence(node, key) { result.append(try string(item, key)) }
        return result
    }

    /// A scalar read by `parse`; `expected` says what was wanted when it returns nil.
    public func value<T>(
        _ node: YAMLNode,
        _ key: String,
        expected: String,
        _ parse: (String) -> T?
    ) throws(Failure) -> T {
        let text = try string(node, key)
        guard let value = parse(text) else { throw fail(node, key, "expected \(expected), got \"\(text)\"") }
        return value
    }

    /// An integer of at least `minimum` (`1_000` allowed).
    public func integer(_ node: YAMLNode, _ key: String, minimum: Int) throws(Failure) -> Int {
        try value(node, key, expected: "an integer >= \(minimum)") {
            Int($0.filter { $0 != "_" }).flatMap { $0 >= minimum ? $0 : nil }
        }
    }

    /// A finite number in `range` (`1_000.5` allowed).
    public func number(_ node: YAMLNode, _ key: String, range: ClosedRange<Double>) throws(Failure) -> Double {
        try value(node, key, expected: "a number in \(range.lowerBound)...\(range.upperBound)") { text in
            Double(text.filter { $0 != "_" }).flatMap { $0.isFinite && range.contains($0) ? $0 : nil }
        }
    }

    /// `true`/`false` and the usual spellings.
    public func boolean(_ node: YAMLNode, _ key: String) throws(Failure) -> Bool {
        try value(node, key, expected: "true or false", parseBoolean)
    }

    /// One of an enumeration's raw values.
    public func enumeration<T: RawRepresentable & CaseIterable>(
        _ node: YAMLNode,
        _ key: String,
        _ type: T.Type
    ) throws(Failure) -> T
    where T.RawValue == String {
        try value(node, key, expected: "one of \(T.allCases.map(\.rawValue).joined(separator: ", "))") {
            T(rawValue: $0)
        }
    }
}

/// `true`/`false` and the usual spellings (`yes`/`no`, `on`/`off`, `1`/`0`), case-insensitive.
public func parseBoolean(_ text: String) -> Bool? {
    switch text.lowercased() {
    case "true", "yes", "on", "1": return true
    case "false", "no", "off", "0": return false
    default: return nil
    }
}
