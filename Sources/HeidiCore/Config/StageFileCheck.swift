#if canImport(Glibc)
import Glibc
#endif

/// What the configured pipeline needs on disk before a stage can run: each active stage's program (looked up on
/// `PATH` when it has no slash, like execvp) and every file its command names inside the checkout or next to the
/// config (`{repo_root}/…`, `{config_dir}/…`). `heidid --check-config` and `heidictl init` report these, so a missing
/// checkout or virtualenv shows before a run, not as a failed first stage.
public enum StageFileCheck {
    /// One thing that is missing.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var key: String
        public var message: String

        public var description: String { "\(key): \(message)" }
    }

    public static func problems(_ config: HeidiConfig, environment: [String: String]) -> [Problem] {
        guard !config.mockSubprocesses else { return [] }
        var problems: [Problem] = []
        if !FileSystem.isDirectory(config.repoRoot) {
            problems.append(Problem(key: "paths.repo_root", message: "\(config.repoRoot) is not a directory (set paths.repo_root, "
                                        + "--repo-root or HEIDI_REPO_ROOT to your checkout)"))
        }
        let searchPath = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for stage in config.activeStages {
            guard let settings = config.stages[stage] else { continue }
            let key = "stages.\(stage.rawValue).command"
            let values = Placeholders.values(config: config, runID: "check", round: 1, rounds: config.rounds, mode: config.mode,
                                             stage: stage)
            func expanded(_ text: String) -> String? { try? Placeholders.expand(text) { values[$0] }.get() }
            guard let program = settings.command.first.flatMap(expanded) else { continue }
            if program.contains("/") {
                let path = FileSystem.resolve(program, against: config.repoRoot)
                if access(path, X_OK) != 0 {
                    problems.append(Problem(key: key, message: "program \(path) \(FileSystem.exists(path) ? "is not executable" : "does not exist")"))
                }
            } else if !searchPath.split(separator: ":").contains(where: { access("\($0)/\(program)", X_OK) == 0 }) {
                problems.append(Problem(key: key, message: "program \(program) is not on PATH (\(searchPath))"))
            }
            for template in settings.command.dropFirst() where template.hasPrefix("{repo_root}/") || template.hasPrefix("{config_dir}/") {
                guard let path = expanded(template), !FileSystem.exists(path) else { continue }
                problems.append(Problem(key: key, message: "\(path) does not exist"))
            }
        }
        return problems
    }
}
