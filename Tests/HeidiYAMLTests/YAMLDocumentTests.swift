import HeidiYAML
import Testing

/// Composition over libyaml: structure, lines and text as written, and refusals that name the line.
struct YAMLDocumentTests {
    /// A compact rendering of a node for table tests: scalars quoted, `[a, b]`, `{k: v}`, each with `@line`.
    static func render(_ node: YAMLNode?) -> String {
        guard let node else { return "nil" }
        switch node.content {
        case .scalar(let text): return "\"\(text)\"@\(node.line)"
        case .sequence(let items): return "[" + items.map { render($0) }.joined(separator: ", ") + "]@\(node.line)"
        case .mapping(let entries):
            return "{" + entries.map { render($0.key) + ": " + render($0.value) }.joined(separator: ", ")
                + "}@\(node.line)"
        }
    }

    @Test(
        "documents compose to the nodes as written",
        arguments: [
            ("", "nil"),
            ("# only a comment\n\n", "nil"),
            ("a: 1\nb: two\n", #"{"a"@1: "1"@1, "b"@2: "two"@2}@1"#),
            ("z: 1\na: 2\nm: 3\n", #"{"z"@1: "1"@1, "a"@2: "2"@2, "m"@3: "3"@3}@1"#),
            ("list:\n  - x\n  - 'y z'\n", #"{"list"@1: ["x"@2, "y z"@3]@2}@1"#),
            ("flow: {rounds: 3, mode: full}\n", #"{"flow"@1: {"rounds"@1: "3"@1, "mode"@1: "full"@1}@1}@1"#),
            ("cmd: [python3, \"{repo_root}/t.py\"]\n", #"{"cmd"@1: ["python3"@1, "{repo_root}/t.py"@1]@1}@1"#),
            ("empty:\n", #"{"empty"@1: ""@1}@1"#),
            ("text: |\n  one\n  two\n", "{\"text\"@1: \"one\ntwo\n\"@1}@1"),
            ("folded: >\n  one\n  two\n", "{\"folded\"@1: \"one two\n\"@1}@1"),
            ("base: &b {x: 1}\ncopy: *b\n", #"{"base"@1: {"x"@1: "1"@1}@1, "copy"@2: {"x"@1: "1"@1}@1}@1"#),
            ("--- plain scalar\n", #""plain scalar"@1"#),
            ("ünï: \"cödé ✓\"\n", #"{"ünï"@1: "cödé ✓"@1}@1"#),
        ]
    )
    func composes(text: String, expected: String) throws {
        #expect(Self.render(try YAMLDocument.parse(text)) == expected)
    }

    @Test(
        "bad documents are refused with the line and what is wrong",
        arguments: [
            ("a: 1\nb: [1, 2\n", 3, "flow sequence"),
            ("a: 1\n  b: 2\n", 2, "mapping values are not allowed"),
            ("key: \"unterminated\n", 2, "quoted scalar"),
            ("one: 1\n---\ntwo: 2\n", 2, "expected one document"),
            ("a: *missing\n", 1, "alias *missing refers to no anchor"),
            ("a: [1\t, @x]\n", 1, "cannot start any token"),
        ]
    )
    func refuses(text: String, line: Int, message: String) {
        do {
            let node = try YAMLDocument.parse(text)
            Issue.record("parsed: \(Self.render(node))")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(message), "\(error)")
        }
    }

    @Test func deepNestingIsRefusedNotRecursedInto() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: YAMLSyntaxError.self) { try YAMLDocument.parse(deep) }
        let fine =
            String(repeating: "[", count: YAMLDocument.maximumDepth)
            + String(repeating: "]", count: YAMLDocument.maximumDepth)
        #expect(throws: Never.self) { try YAMLDocument.parse(fine) }
    }

    /// An unquoted `{name}` is a YAML mapping; where a single value was wanted, the error says how to write the text.
    @Test func unquotedPlaceholdersGetAHint() throws {
        let root = try #require(try YAMLDocument.parse("a: {samples}\nb: {x: 1}\n"))
        let value = Dictionary(uniqueKeysWithValues: try Self.fields.mapping(root, "").map { ($0.name, $0.value) })
        #expect(
            throws: Failure(
                line: 1,
                key: "a",
                message: "expected a single value, got the mapping {samples}: YAML reads an "
                    + "unquoted {...} as a mapping; quote the value, e.g. \"{samples}\""
            )
        ) {
            try Self.fields.string(try #require(value["a"]), "a")
        }
        #expect(throws: Failure(line: 2, key: "b", message: "expected a single value, got a mapping")) {
            try Self.fields.string(try #require(value["b"]), "b")
        }
        #expect(
            throws: Failure(
                line: 2,
                key: "",
                message: "invalid YAML: did not find expected ',' or ']' while parsing a flow sequence; "
                    + "YAML reads an unquoted { as the start of a mapping: quote the value, e.g. \"{repo_root}/t.py\""
            )
        ) {
            try Self.fields.document("cmd: [python3,\n  {repo_root}/t.py]\n")
        }
    }

    @Test func aliasExpansionBombsAreRefused() {
        // Nine levels of ten aliases each: 10^9 nodes if expanded.
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            let previous = "*a\(level - 1)"
            text += "a\(level): &a\(level) [" + Array(repeating: previous, count: 10).joined(separator: ", ") + "]\n"
        }
        do {
            _ = try YAMLDocument.parse(text)
            Issue.record("a billion-node document was composed")
        } catch {
            #expect(error.message.contains("nodes once aliases are expanded"), "\(error)")
        }
    }

    struct Failure: Error, Equatable {
        var line: Int?
        var key: String
        var message: String
    }

    static let fields = YAMLFields { line, key, message in Failure(line: line, key: key, message: message) }

    @Test func fieldsReadTypedValuesAndNameTheKeyAndLine() throws {
        let root = try #require(try YAMLDocument.parse("n: 1_000\nb: Yes\nl: [a, b]\none: solo\nbad: x\nmode: fast\n"))
        let entries = try Self.fields.mapping(root, "top")
        #expect(entries.map(\.key) == ["top.n", "top.b", "top.l", "top.one", "top.bad", "top.mode"])
        let value = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.value) })
        #expect(try Self.fields.integer(try #require(value["n"]), "n", minimum: 1) == 1000)
        #expect(try Self.fields.boolean(try #require(value["b"]), "b"))
        #expect(try Self.fields.strings(try #require(value["l"]), "l") == ["a", "b"])
        #expect(try Self.fields.strings(try #require(value["one"]), "one") == ["solo"])
        #expect(throws: Failure(line: 5, key: "top.bad", message: "expected an integer >= 0, got \"x\"")) {
            try Self.fields.integer(try #require(value["bad"]), "top.bad", minimum: 0)
        }
        #expect(throws: Failure(line: 3, key: "l", message: "expected a single value, got a list")) {
            try Self.fields.string(try #require(value["l"]), "l")
        }
        #expect(throws: Failure(line: 1, key: "(top level)", message: "expected a list")) {
            try Self.fields.sequence(root, "(top level)")
        }
    }
}
