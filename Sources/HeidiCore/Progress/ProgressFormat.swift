/// How a stage's output is read for progress (`stages.<name>.progress`, SPEC §11).
public enum ProgressFormat: Sendable, Equatable, CustomStringConvertible {
    /// Both built-in recognisers: the original engine's `Generated N/M` lines and tqdm bars.
    case auto
    /// tqdm bars (`45%|████▌     | 45/100 [00:01<00:02, 30.10it/s]`), including carriage-return updates.
    case tqdm
    /// The original engine's `[INFO] Generated 10/50 (20%) | 3.21 it/s | ETA 12s`.
    case engine
    /// A regular expression with the named group `done` and optionally `total`, `rate` (per second) and `eta`
    /// (seconds), matched against each output line.
    case pattern(String)

    /// The names accepted for the built-in recognisers.
    public static let builtInNames = ["auto", "tqdm", "heidi-engine"]

    /// Reads the config value: a built-in name, or a pattern with a `done` group.
    public static func parse(_ text: String) -> Result<ProgressFormat, ProgressFormatError> {
        switch text {
        case "auto": return .success(.auto)
        case "tqdm": return .success(.tqdm)
        case "heidi-engine": return .success(.engine)
        default:
            guard ["(?<done>", "(?P<done>", "(?'done'"].contains(where: { text.contains($0) }) else {
                return .failure(.notAPattern(text))
            }
            do { _ = try Regex(text) } catch { return .failure(.invalidPattern(text, "\(error)")) }
            return .success(.pattern(text))
        }
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .tqdm: return "tqdm"
        case .engine: return "heidi-engine"
        case .pattern(let text): return text
        }
    }
}

/// A `progress:` value that is neither a built-in recogniser nor a usable pattern.
public enum ProgressFormatError: Error, Equatable, CustomStringConvertible {
    case notAPattern(String)
    case invalidPattern(String, String)

    public var description: String {
        switch self {
        case .notAPattern(let text):
            return
                "\"\(text)\" is neither a built-in recogniser (\(ProgressFormat.builtInNames.joined(separator: ", "))) "
                + "nor a regular expression with a named group (?<done>...), e.g. 'step (?<done>\\d+)/(?<total>\\d+)'"
        case .invalidPattern(let text, let reason):
            return "\"\(text)\" is not a valid regular expression: \(reason)"
        }
    }
}
