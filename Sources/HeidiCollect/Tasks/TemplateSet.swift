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
    }

    /// The file it came from (for messages).
    public var path: String
    public var language: String
    public var system: String?
    public var templates: [Template]
    /// Each topic maps placeholder names to text; `name` is the topic's identifier.
    public var topics: [[String: String]]

    /// The `index`-th task of a run: template and topic drawn from the seed, independently for every index.
    func task(index: Int, seed: UInt64, round: Int) -> PromptTask {
        var random = SeededRandom(seed: seed, "template", index)
        let template = templates[Int(random.next() % UInt64(templates.count))]
        let topic = topics[Int(random.next() % UInt64(topics.count))]
        var values = topic
        values["language"] = Languages.displayName(language)
        let system = system.map { Placeholder.fill($0, values) } ?? PromptTask.defaultSystem(language: language)
        return PromptTask(index: index, id: PromptTask.recordID(round: round, index: index),
                          instruction: Placeholder.fill(template.instruction, values),
                          input: Placeholder.fill(template.input, values), language: language,
                          taskType: template.taskType, system: system, topic: topic["name"])
    }
}

/// `{name}` substitution for templates.
enum Placeholder {
    /// The placeholder names `text` uses, in order of appearance.
    static func names(in text: String) -> [String] {
        var names: [String] = []
        scan(text) { names.append($0); return "" }
        return names
    }

    /// `text` with every `{name}` replaced by `values[name]` (unknown names are left as written).
    static func fill(_ text: String, _ values: [String: String]) -> String {
        scan(text) { values[$0] ?? "{\($0)}" }
    }

    @discardableResult
    private static func scan(_ text: String, _ replacement: (String) -> String) -> String {
        var result = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            if character == "{", next < text.endIndex, text[next] == "{" {
                result.append("{")
                index = text.index(after: next)
            } else if character == "}", next < text.endIndex, text[next] == "}" {
                result.append("}")
                index = text.index(after: next)
            } else if character == "{", let close = text[next...].firstIndex(of: "}"),
                      isName(text[next..<close])
            {
                result += replacement(String(text[next..<close]))
                index = text.index(after: close)
            } else {
                result.append(character)
                index = next
            }
        }
        return result
    }

    private static func isName(_ text: Substring) -> Bool {
        !text.isEmpty && text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
    }
}
