/// One language's prompt templates (a `templates/<language>.yaml` file): templates × topics.
///
/// ```yaml
/// language: python
/// system: "You are ..."              # optional; {language} and topic keys may appear
/// templates:
///   - task_type: code_completion
///     instruction: "Complete the function `{name}` so that it {goal}."
///     input: "{stub}"                # optional
/// topics:
///   - {name: calculate_sum, goal: "returns the sum of a list", stub: "def calculate_sum(numbers):"}
/// ```
/// Every `{placeholder}` a template uses must be a key of every topic (or `{language}`); `{{`/`}}` are literal braces.
public struct TemplateSet: Sendable, Equatable {
    /// One way of asking.
    public struct Template: Sendable, Equatable {
        public var taskType: String
        public var instruction: String
        public var input: String
        let compiledInstruction: Placeholder.Compiled
        let compiledInput: Placeholder.Compiled

        public init(taskType: String, instruction: String, input: String) {
            self.taskType = taskType
            self.instruction = instruction
            self.input = input
            compiledInstruction = Placeholder.Compiled(instruction)
            compiledInput = Placeholder.Compiled(input)
        }
    }

    /// The file it came from (for messages).
    public var path: String
    public var language: String
    public var system: String?
    public var templates: [Template]
    /// Each topic maps placeholder names to text; `name` is the topic's identifier.
    public var topics: [[String: String]]
    private let compiledSystem: Placeholder.Compiled?

    public init(path: String, language: String, system: String?, templates: [Template], topics: [[String: String]]) {
        self.path = path
        self.language = language
        self.system = system
        self.templates = templates
        self.topics = topics
        compiledSystem = system.map(Placeholder.Compiled.init)
    }

    /// The `index`-th task of a run: template and topic drawn from the seed, independently for every index.
    func task(index: Int, seed: UInt64, round: Int) -> PromptTask {
        var random = SeededRandom(seed: seed, "template", index)
        let template = templates[Int(random.next() % UInt64(templates.count))]
        let topic = topics[Int(random.next() % UInt64(topics.count))]
        var values = topic
        values["language"] = Languages.displayName(language)
        let system = compiledSystem?.fill(values) ?? PromptTask.defaultSystem(language: language)
        return PromptTask(
            index: index,
            id: PromptTask.recordID(round: round, index: index),
            instruction: template.compiledInstruction.fill(values),
            input: template.compiledInput.fill(values),
            language: language,
            taskType: template.taskType,
            system: system,
            topic: topic["name"]
        )
    }
}

/// `{name}` substitution for templates, on UTF-8 bytes: a run expands thousands of prompts, so a template is split
/// into literal text and placeholders once (`Placeholder.Compiled`) and filled by concatenation.
enum Placeholder {
    /// A template split into literal parts and placeholder names.
    struct Compiled: Sendable, Equatable {
        enum Part: Sendable, Equatable {
            case literal(String)
            case name(String)
        }

        var parts: [Part]

        init(_ text: String) {
            var parts: [Part] = []
            var literal: [UInt8] = []
            let bytes = Array(text.utf8)
            var index = 0
            func flush() {
                if !literal.isEmpty { parts.append(.literal(String(decoding: literal, as: UTF8.self))) }
                literal.removeAll()
            }
            while index < bytes.count {
                let byte = bytes[index]
                let next = index + 1 < bytes.count ? bytes[index + 1] : 0
                if (byte == UInt8(ascii: "{") && next == UInt8(ascii: "{"))
                    || (byte == UInt8(ascii: "}") && next == UInt8(ascii: "}"))
                {
                    literal.append(byte)
                    index += 2
                } else if byte == UInt8(ascii: "{"), let close = Self.nameEnd(bytes, from: index + 1) {
                    flush()
                    parts.append(.name(String(decoding: bytes[(index + 1)..<close], as: UTF8.self)))
                    index = close + 1
                } else {
                    literal.append(byte)
                    index += 1
                }
            }
            flush()
            self.parts = parts
        }

        /// The placeholder names, in order of appearance.
        var names: [String] {
            parts.compactMap { part in
                if case .name(let name) = part { return name }
                return nil
            }
        }

        /// The text with every `{name}` replaced by `values[name]` (unknown names are left as written).
        func fill(_ values: [String: String]) -> String {
            var result = ""
            for part in parts {
                switch part {
                case .literal(let text): result += text
                case .name(let name): result += values[name] ?? "{\(name)}"
                }
            }
            return result
        }

        /// The index of the `}` closing a placeholder name that starts at `start`, or nil if it is not one
        /// (names are ASCII letters, digits and `_`).
        private static func nameEnd(_ bytes: [UInt8], from start: Int) -> Int? {
            var index = start
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "}") { return index > start ? index : nil }
                let isNameByte =
                    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
                guard isNameByte else { return nil }
                index += 1
            }
            return nil
        }
    }

    static func names(in text: String) -> [String] { Compiled(text).names }
    static func fill(_ text: String, _ values: [String: String]) -> String { Compiled(text).fill(values) }
}
