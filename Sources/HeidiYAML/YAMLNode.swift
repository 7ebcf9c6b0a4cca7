/// One node of a YAML document as written: a scalar's text (untyped: readers decide what it means), a sequence or
/// a mapping in file order, with the line it starts on for error messages.
public struct YAMLNode: Sendable {
    /// What the node holds.
    public enum Content: Sendable {
        case scalar(String)
        case sequence([YAMLNode])
        case mapping([(key: YAMLNode, value: YAMLNode)])
    }

    public let content: Content
    /// 1-based line of the node's first character.
    public let line: Int
    /// Nodes in this subtree (itself included): what an alias to it costs.
    let weight: Int

    init(_ content: Content, line: Int) {
        self.content = content
        self.line = line
        switch content {
        case .scalar: weight = 1
        case .sequence(let items): weight = items.reduce(1) { $0 + $1.weight }
        case .mapping(let entries): weight = entries.reduce(1) { $0 + $1.key.weight + $1.value.weight }
        }
    }

    /// The text of a scalar, nil for a sequence or mapping.
    public var scalar: String? {
        if case .scalar(let text) = content { return text }
        return nil
    }

    /// What the node is, for "expected …, got …" messages. A mapping of keys without values is what YAML makes of
    /// an unquoted placeholder (`{samples}`), so that one says how to write the text instead.
    public var shapeDescription: String {
        switch content {
        case .scalar: return "a single value"
        case .sequence: return "a list"
        case .mapping(let entries):
            let names = entries.compactMap { entry in entry.value.scalar == "" ? entry.key.scalar : nil }
            guard !names.isEmpty, names.count == entries.count else { return "a mapping" }
            let written = "{" + names.joined(separator: ", ") + "}"
            return
                "the mapping \(written): YAML reads an unquoted {...} as a mapping; quote the value, e.g. \"\(written)\""
        }
    }

    /// The first `{word...` on a line that starts outside quotes (after `: `, `- `, `[`, `,` or at the start of
    /// the value), up to the next space, comma or bracket: what the user meant as text. Nil when there is none.
    static func unquotedBraceWord(in line: Substring) -> String? {
        var quote: Character?
        var previous: Character = " "
        var index = line.startIndex
        while index < line.endIndex {
            let c = line[index]
            if let open = quote {
                if c == open { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" && previous == " " {
                return nil
            } else if c == "{" && " [,:-".contains(previous) {
                let rest = line[index...]
                let word = rest.prefix { !" ,]\t".contains($0) }
                if word.count > 2, word.dropFirst().first.map({ $0.isLetter || $0 == "_" }) == true, word.contains("}")
                {
                    return String(word)
                }
            }
            previous = c
            index = line.index(after: index)
        }
        return nil
    }
}

/// A document libyaml could not parse, or one heidi refuses to compose (several documents, too deep, too big).
public struct YAMLSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line, when known.
    public var line: Int?
    /// 1-based column, when known.
    public var column: Int?
    public var message: String

    public init(line: Int?, column: Int?, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        guard let line else { return message }
        return "line \(line)" + (column.map { ", column \($0)" } ?? "") + ": " + message
    }
}
