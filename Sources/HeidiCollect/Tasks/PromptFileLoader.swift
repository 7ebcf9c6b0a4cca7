import HeidiCore

/// Reads a JSONL prompt file: one object per line,
/// `{"instruction": "...", "input": "...", "language": "python", "task_type": "bug_fixing", "id": "..."}`.
///
/// `instruction` is required; `input` defaults to empty, `language` to the run's default, `task_type` to `general`,
/// `id` to `round_<R>_<index:04d>`; `system` may replace the default system message. Other keys are ignored (data
/// files often carry more). Blank lines are skipped; anything else that is not such an object is an error naming
/// the line.
public enum PromptFileLoader {
    public static func load(
        _ path: String,
        defaultLanguage: String,
        round: Int,
        limit: Int? = nil
    )
        throws(PromptSourceError) -> [PromptTask]
    {
        let bytes: [UInt8]
        do throws(FileSystemError) { bytes = try FileSystem.read(path) } catch {
            throw .unreadable(path: path, reason: errnoDescription(error.errno))
        }
        var tasks: [PromptTask] = []
        var lineNumber = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if let limit, tasks.count >= limit { break }
            guard line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0d }) else { continue }
            tasks.append(
                try task(
                    line,
                    path: path,
                    line: lineNumber,
                    index: tasks.count,
                    defaultLanguage: defaultLanguage,
                    round: round
                )
            )
        }
        guard !tasks.isEmpty else { throw .empty(path: path) }
        return tasks
    }

    static func task(
        _ bytes: ArraySlice<UInt8>,
        path: String,
        line: Int,
        index: Int,
        defaultLanguage: String,
        round: Int
    )
        throws(PromptSourceError) -> PromptTask
    {
        let value: JSONValue
        do throws(JSONParseError) { value = try StrictJSONParser.parse(bytes) } catch {
            throw .invalidPrompt(path: path, line: line, message: "not valid JSON (\(error))")
        }
        guard case .object = value else {
            throw .invalidPrompt(path: path, line: line, message: "expected a JSON object")
        }
        func text(_ key: String) throws(PromptSourceError) -> String? {
            guard let member = value[key], !member.isNull else { return nil }
            guard let string = member.stringValue else {
                throw .invalidPrompt(path: path, line: line, message: "\"\(key)\" must be a string")
            }
            return string
        }
        guard let instruction = try text("instruction"), !instruction.isEmpty else {
            throw .invalidPrompt(path: path, line: line, message: "\"instruction\" is missing or empty")
        }
        let language = Languages.normalize(try text("language") ?? defaultLanguage)
        return PromptTask(
            index: index,
            id: try text("id") ?? PromptTask.recordID(round: round, index: index),
            instruction: instruction,
            input: try text("input") ?? "",
            language: language,
            taskType: try text("task_type") ?? "general",
            system: try text("system") ?? PromptTask.defaultSystem(language: language)
        )
    }
}
