/// Expansion of `{name}` placeholders in stage commands, working directories and environment values.
/// `{{` and `}}` stand for literal braces.
public enum Placeholders {
    /// Names every stage may use besides the keys of `pipeline.vars`.
    public static let builtIn: Set<String> = [
        "round", "rounds", "run_id", "run_dir", "state_dir", "repo_root", "mode", "stage", "config_dir",
    ]

    /// The value of every placeholder for `stage` of round `round` of run `runID`.
    public static func values(config: HeidiConfig, runID: String?, round: Int, rounds: Int, mode: PipelineMode,
                              stage: Stage) -> [String: String] {
        let runID = runID ?? "none"
        var values = config.vars
        values["round"] = String(round)
        values["rounds"] = String(rounds)
        values["run_id"] = runID
        values["run_dir"] = config.runDirectory(runID)
        values["state_dir"] = config.stateDir
        values["repo_root"] = config.repoRoot
        values["mode"] = mode.rawValue
        values["stage"] = stage.rawValue
        values["config_dir"] = config.configDirectory ?? FileSystem.currentDirectory()
        return values
    }

    /// The placeholder names used in `text`, or an error message for unbalanced braces.
    public static func names(in text: String) -> Result<[String], PlaceholderError> {
        var names: [String] = []
        let result = expand(text) { name in names.append(name); return "" }
        return result.map { _ in names }
    }

    /// `text` with each placeholder replaced by `value(name)`.
    public static func expand(_ text: String, _ value: (String) -> String?) -> Result<String, PlaceholderError> {
        var out = ""
        var chars = Array(text)[...]
        while let c = chars.first {
            chars = chars.dropFirst()
            if c == "{" {
                if chars.first == "{" { out.append("{"); chars = chars.dropFirst(); continue }
                guard let close = chars.firstIndex(of: "}") else { return .failure(.unclosed(text)) }
                let name = String(chars[chars.startIndex..<close])
                chars = chars[(close + 1)...]
                guard let replacement = value(name) else { return .failure(.unknown(name)) }
                out += replacement
            } else if c == "}" {
                if chars.first == "}" { chars = chars.dropFirst() }
                out.append("}")
            } else {
                out.append(c)
            }
        }
        return .success(out)
    }
}

/// A placeholder that cannot be expanded.
public enum PlaceholderError: Error, Equatable, CustomStringConvertible {
    case unclosed(String)
    case unknown(String)

    public var description: String {
        switch self {
        case .unclosed(let text): return "unclosed '{' in \"\(text)\" (write {{ for a literal brace)"
        case .unknown(let name):
            let known = (Placeholders.builtIn.sorted()).map { "{\($0)}" }.joined(separator: ", ")
            return "unknown placeholder {\(name)} (known: \(known) and the keys of pipeline.vars)"
        }
    }
}
