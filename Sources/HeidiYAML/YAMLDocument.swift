import CYAML

/// Parses YAML text with libyaml and composes its one document into `YAMLNode`s. Written here, over libyaml's
/// event API, instead of using Yams: Yams links the whole of Foundation and ICU, which doubled heidid's resident
/// memory and heidictl's start-up time for what amounts to reading a config file. Bounded for hostile input:
/// nesting depth, and the nodes that aliases may expand to (a "billion laughs" document is refused, not expanded).
public enum YAMLDocument {
    /// Deepest nesting of sequences and mappings accepted.
    public static let maximumDepth = 64
    /// Most nodes a document may compose to, aliases expanded.
    public static let maximumNodes = 100_000

    /// The document's root node; nil for an empty document (nothing but comments or whitespace).
    public static func parse(_ text: String) throws(YAMLSyntaxError) -> YAMLNode? {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { return nil }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw YAMLSyntaxError(line: nil, column: nil, message: "out of memory")
        }
        defer { yaml_parser_delete(&parser) }
        return try bytes.withUnsafeMutableBufferPointer { (buffer) throws(YAMLSyntaxError) -> YAMLNode? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var composer = Composer()
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { throw Self.failure(of: parser) }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { return composer.root }
                try composer.consume(event)
            }
        }
    }

    private static func failure(of parser: yaml_parser_t) -> YAMLSyntaxError {
        var message = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        if let context = parser.context { message += " " + String(cString: context) }
        return YAMLSyntaxError(
            line: Int(parser.problem_mark.line) + 1,
            column: Int(parser.problem_mark.column) + 1,
            message: message
        )
    }
}

/// Builds the node tree from libyaml's events with an explicit stack (no recursion on nesting).
private struct Composer {
    private enum Frame {
        case sequence(line: Int, anchor: String?, items: [YAMLNode])
        case mapping(line: Int, anchor: String?, entries: [(key: YAMLNode, value: YAMLNode)], key: YAMLNode?)
    }

    private(set) var root: YAMLNode?
    private var stack: [Frame] = []
    private var anchors: [String: YAMLNode] = [:]
    private var documents = 0
    private var nodes = 0

    mutating func consume(_ event: yaml_event_t) throws(YAMLSyntaxError) {
        let line = Int(event.start_mark.line) + 1
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                throw YAMLSyntaxError(line: line, column: nil, message: "expected one document, found a second")
            }
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text = String(
                decoding: UnsafeBufferPointer(start: scalar.value, count: Int(scalar.length)),
                as: UTF8.self
            )
            try add(YAMLNode(.scalar(text), line: line), anchor: Self.text(scalar.anchor))
        case YAML_ALIAS_EVENT:
            let name = Self.text(event.data.alias.anchor) ?? ""
            guard let target = anchors[name] else {
                throw YAMLSyntaxError(line: line, column: nil, message: "alias *\(name) refers to no anchor before it")
            }
            try add(target, anchor: nil)
        case YAML_SEQUENCE_START_EVENT:
            try push(.sequence(line: line, anchor: Self.text(event.data.sequence_start.anchor), items: []), line: line)
        case YAML_MAPPING_START_EVENT:
            try push(
                .mapping(line: line, anchor: Self.text(event.data.mapping_start.anchor), entries: [], key: nil),
                line: line
            )
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            switch stack.popLast() {
            case .sequence(let start, let anchor, let items)?:
                try add(YAMLNode(.sequence(items), line: start), anchor: anchor)
            case .mapping(let start, let anchor, let entries, _)?:
                try add(YAMLNode(.mapping(entries), line: start), anchor: anchor)
            case nil: break  // libyaml never ends what it did not start
            }
        default:
            break  // stream and document ends carry nothing
        }
    }

    private mutating func push(_ frame: Frame, line: Int) throws(YAMLSyntaxError) {
        guard stack.count < YAMLDocument.maximumDepth else {
            throw YAMLSyntaxError(
                line: line,
                column: nil,
                message: "nested deeper than \(YAMLDocument.maximumDepth) levels"
            )
        }
        stack.append(frame)
    }

    /// Attaches a finished node to the collection being built, or makes it the root.
    private mutating func add(_ node: YAMLNode, anchor: String?) throws(YAMLSyntaxError) {
        nodes += node.weight
        guard nodes <= YAMLDocument.maximumNodes else {
            throw YAMLSyntaxError(
                line: node.line,
                column: nil,
                message: "more than \(YAMLDocument.maximumNodes) nodes once aliases are expanded"
            )
        }
        if let anchor { anchors[anchor] = node }
        switch stack.popLast() {
        case .sequence(let line, let anchor, var items)?:
            items.append(node)
            stack.append(.sequence(line: line, anchor: anchor, items: items))
        case .mapping(let line, let anchor, var entries, let key)?:
            if let key {
                entries.append((key, node))
                stack.append(.mapping(line: line, anchor: anchor, entries: entries, key: nil))
            } else {
                stack.append(.mapping(line: line, anchor: anchor, entries: entries, key: node))
            }
        case nil:
            root = node
        }
    }

    private static func text(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: UnsafePointer($0)) }
    }
}
