/// A problem with the prompts or templates a run was given, naming the file (and line) involved.
public enum PromptSourceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file or directory cannot be read.
    case unreadable(path: String, reason: String)
    /// A template directory holds no `*.yaml`/`*.yml` file (or none for the requested languages).
    case noTemplates(path: String, detail: String)
    /// A template file is not what heidi-collect expects.
    case invalidTemplate(path: String, line: Int?, key: String, message: String)
    /// A prompt file line is not a usable prompt.
    case invalidPrompt(path: String, line: Int, message: String)
    /// The source yields no prompt at all.
    case empty(path: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): cannot read: \(reason)"
        case .noTemplates(let path, let detail): return "\(path): no templates (\(detail))"
        case .invalidTemplate(let path, let line, let key, let message):
            let location = line.map { "\(path):\($0)" } ?? path
            return key.isEmpty ? "\(location): \(message)" : "\(location): \(key): \(message)"
        case .invalidPrompt(let path, let line, let message): return "\(path):\(line): \(message)"
        case .empty(let path): return "\(path): no prompts"
        }
    }
}
