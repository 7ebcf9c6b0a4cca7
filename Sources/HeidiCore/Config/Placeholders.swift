/// Expansion of `{name}` placeholders in stage commands, working directories and environment values.
/// `{{` and `}}` stand for literal braces.
public enum Placeholders {
    /// Names every stage may use besides the keys of `pipeline.vars`.
    public static let builtIn: Set<String> = [
        "round", "rounds", "run_id", "run_dir", "state_dir", "repo_root", "mode", "stage", "config_dir",
    ]

    /// The value of every placeholder for `stage` of round `round` of run `runID`.
    public static func values(
        config: HeidiConfig,
        runID: String?,
        round: Int,
        rounds: Int,
        mode: PipelineMode,
        stage: Stage
    ) -> [String: String] {
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
        let result = expand(text) { name in
            names.append(name)
            return ""
        }
        return result.map { _ in names }
    }

    /// `text` with each placeholder replaced by `value(name)`.
    public static func expand(_ text: String, _ value: (String) -> String?) -> Result<String, PlaceholderError> {
        var out = ""
        var chars = Array(text)[...]
        while let c = chars.first {
            chars = chars.dropFirst()
            if c == "{" {
                if chars.first == "{" {
                    out.append("{")
                    chars = chars.dropFirst()
                    continue
                }
                guard let close = chars.firstIndex(of: "}") else { return .failure(.unclosed(text)) }
                let name = String(chars[chars.startIndex..<close])
                chars = chars[(close + 1)...]
                guard let replacement = value(name) else { return .failure(.unknown(name)) }
                out += replacement
            } else if c == "}" {
                guard chars.first == "}" else { return .failure(.unmatched(text)) }
                chars = chars.dropFirst()
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
    /// A `{` without its `}`; the text it is in.
    case unclosed(String)
    /// A `}` without its `{`; the text it is in.
    case unmatched(String)
    /// A name that is neither built in nor a key of `pipeline.vars`.
    case unknown(String)

    public var description: String { describe(vars: []) }

    /// The description, listing `vars` (the keys of `pipeline.vars`) among the known names and suggesting the
    /// closest known name for a misspelt one.
    public func describe(vars: Set<String>) -> String {
        switch self {
        case .unclosed(let text): return "unclosed '{' in \"\(text)\" (write {{ for a literal brace)"
        case .unmatched(let text): return "'}' without a matching '{' in \"\(text)\" (write }} for a literal brace)"
        case .unknown(let name):
            let known = Placeholders.builtIn.union(vars)
            let list = known.sorted().map { "{\($0)}" }.joined(separator: ", ")
            let guess = Self.closest(to: name, in: known).map { "did you mean {\($0)}? " } ?? ""
            return
                "unknown placeholder {\(name)} (\(guess)known: \(list)\(vars.isEmpty ? " and the keys of pipeline.vars" : ""))"
        }
    }

    /// The known name within two edits of `name` (the nearest; nil when none is that close).
    static func closest(to name: String, in known: Set<String>) -> String? {
        let candidates = known.map { ($0, editDistance(Array(name), Array($0))) }.filter {
            $0.1 <= 2 && $0.1 < max(name.count, 1)
        }
        return candidates.min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
    }

    /// Levenshtein distance.
    private static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var row = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var diagonal = row[0]
            row[0] = i + 1
            for (j, cb) in b.enumerated() {
                let above = row[j + 1]
                row[j + 1] = min(above + 1, row[j] + 1, diagonal + (ca == cb ? 0 : 1))
                diagonal = above
            }
        }
        return row[b.count]
    }
}
