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
