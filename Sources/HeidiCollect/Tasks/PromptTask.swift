/// One request to the teacher: what to ask, in which language, for which kind of task.
public struct PromptTask: Sendable, Equatable {
    /// Position in the run (0-based); records are written in this order.
    public var index: Int
    /// The record id (`round_<R>_<index:04d>` unless the prompt file gave one).
    public var id: String
    public var instruction: String
    public var input: String
    /// Normalised language name (`python`, `cpp`, `javascript`, `go`, or whatever the source said).
    public var language: String
    public var taskType: String
    /// System message sent with the prompt.
    public var system: String
    /// The template topic's name (a function name) when the task came from a template; mock answers use it.
    public var topic: String?

    public init(
        index: Int,
        id: String,
        instruction: String,
        input: String,
        language: String,
        taskType: String,
        system: String,
        topic: String? = nil
    ) {
        self.index = index
        self.id = id
        self.instruction = instruction
        self.input = input
        self.language = language
        self.taskType = taskType
        self.system = system
        self.topic = topic
    }

    /// The user message: the instruction, then the input when there is one.
    public var userMessage: String {
        input.isEmpty ? instruction : instruction + "\n\n" + input
    }

    /// The default system message for `language`.
    public static func defaultSystem(language: String) -> String {
        "You are an expert \(Languages.displayName(language)) programmer. Answer with a short explanation and "
            + "exactly one fenced ```\(language) code block containing complete, valid code."
    }

    /// The record id for `index` in `round`, like the original engine's `round_<R>_<idx:04d>`.
    public static func recordID(round: Int, index: Int) -> String {
        let digits = String(index)
        return "round_\(round)_" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// Language names as prompts, records and validators use them.
public enum Languages {
    /// `c++`/`cxx` → `cpp`, `js`/`node` → `javascript`, `golang` → `go`, `py`/`python3` → `python`; others lowercased.
    public static func normalize(_ name: String) -> String {
        let lower = name.lowercased()
        switch lower {
        case "c++", "cxx", "cc", "cpp": return "cpp"
        case "js", "node", "nodejs", "javascript": return "javascript"
        case "golang", "go": return "go"
        case "py", "python3", "python": return "python"
        default: return lower
        }
    }

    /// How people write the language's name.
    public static func displayName(_ language: String) -> String {
        switch language {
        case "cpp": return "C++"
        case "javascript": return "JavaScript"
        case "go": return "Go"
        case "python": return "Python"
        default: return language
        }
    }
}
