#if canImport(Glibc)
import Glibc
#endif

/// Something a loaded configuration cannot run as written, found by looking at the file system: a `repo_root` that
/// does not exist, a stage's program or script that is missing, a stage the file leaves out (so it falls back to the
/// original engine's `scripts/*.py`). `heidid --check-config` prints these (and fails on them with `--strict`);
/// heidid logs them when it starts; `heidictl init` checks the config it writes with them.
public struct ConfigWarning: Sendable, Equatable, CustomStringConvertible {
    /// The dotted key at fault (`paths.repo_root`, `stages.train.command`).
    public var key: String
    /// The path that is missing, when there is one.
    public var path: String?
    public var message: String

    public init(key: String, path: String? = nil, message: String) {
        self.key = key
        self.path = path
        self.message = message
    }

    public var description: String { "\(key): \(message)" }
}

/// The file-system questions `ConfigCheck` asks, a seam for tests.
public struct FileProbe: Sendable {
    public var isDirectory: @Sendable (String) -> Bool
    /// A regular file (or a link to one) this process may execute.
    public var isExecutableFile: @Sendable (String) -> Bool
    public var exists: @Sendable (String) -> Bool

    public init(
        isDirectory: @escaping @Sendable (String) -> Bool,
        isExecutableFile: @escaping @Sendable (String) -> Bool,
        exists: @escaping @Sendable (String) -> Bool
    ) {
        self.isDirectory = isDirectory
        self.isExecutableFile = isExecutableFile
        self.exists = exists
    }

    /// The real file system.
    public static let live = FileProbe(
        isDirectory: { FileSystem.isDirectory($0) },
        isExecutableFile: { path in
            var info = stat()
            return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
        },
        exists: { FileSystem.exists($0) }
    )
}

/// Checks what loading cannot: whether the paths a run needs exist. Placeholders known before a run starts
/// (`{repo_root}`, `{state_dir}`, `{mode}`, `{rounds}`, pipeline.vars) are expanded; a value that needs one known
/// only at run time (`{run_dir}`, `{round}`, `{run_id}`, `{stage}`) is not checked.
public enum ConfigCheck {
    /// Interpreters whose first non-option argument is a script file.
    static let interpreters: Set<String> = [
        "python", "python2", "python3", "sh", "bash", "dash", "zsh", "node", "perl",
        "ruby", "Rscript", "lua", "php", "deno", "bun", "uv", "tsx",
    ]

    public static func warnings(
        _ config: HeidiConfig,
        environment: [String: String],
        probe: FileProbe = .live
    ) -> [ConfigWarning] {
        // Nothing is spawned with mocked subprocesses, so nothing on disk matters.
        guard !config.mockSubprocesses else { return [] }
        var warnings: [ConfigWarning] = []
        let repoRootExists = probe.isDirectory(config.repoRoot)
        if !repoRootExists {
            let relative =
                config.source.hasPrefix("/")
                ? "; a relative repo_root in the file is resolved against its directory, \(FileSystem.dirname(config.source))"
                : ""
            warnings.append(
                ConfigWarning(
                    key: "paths.repo_root",
                    path: config.repoRoot,
                    message:
                        "\(config.repoRoot) is not a directory: {repo_root} points nowhere, and stages without a cwd "
                        + "would run in the state directory\(relative) (set paths.repo_root, $HEIDI_REPO_ROOT or --repo-root)"
                )
            )
        }
        var values = config.vars
        values["state_dir"] = config.stateDir
        values["repo_root"] = config.repoRoot
        values["mode"] = config.mode.rawValue
        values["rounds"] = String(config.rounds)
        values["config_dir"] = config.configDirectory ?? FileSystem.currentDirectory()
        let builtIn = ConfigLoader.defaultStages()
        for stage in config.activeStages {
            guard let settings = config.stages[stage] else { continue }
            let key = "stages.\(stage.rawValue)"
            // Where the stage runs, as the engine chooses it; nil when it is only known at run time.
            var directory: String? = repoRootExists ? config.repoRoot : config.stateDir
            if let cwd = settings.cwd {
                directory = expand(cwd, values).map { FileSystem.resolve($0, against: config.repoRoot) }
                if let directory, !probe.isDirectory(directory) {
                    warnings.append(
                        ConfigWarning(key: key + ".cwd", path: directory, message: "\(directory) is not a directory")
                    )
                }
            }
            let defaulted = config.defaultedStages.contains(stage) && settings.command == builtIn[stage]?.command
            let missing = missingPaths(
                settings,
                values: values,
                directory: directory,
                environment: environment,
                probe: probe
            )
            if defaulted {
                let script = settings.command.dropFirst().first ?? ""
                let state =
                    missing.isEmpty ? "" : ", which cannot run here: " + missing.map(\.message).joined(separator: "; ")
                warnings.append(
                    ConfigWarning(
                        key: key,
                        path: missing.first?.path,
                        message: "not set in \(config.source): falls back to the original engine's \(script)\(state) "
                            + "(define \(key).command)"
                    )
                )
            } else {
                warnings += missing.map { ConfigWarning(key: key + ".command", path: $0.path, message: $0.message) }
            }
        }
        return warnings
    }

    /// The stage's program (found as the spawn finds it: through PATH when it has no '/') and, for an interpreter,
    /// its script, when they do not exist.
    private static func missingPaths(
        _ settings: StageConfig,
        values: [String: String],
        directory: String?,
        environment: [String: String],
        probe: FileProbe
    ) -> [(path: String, message: String)] {
        guard let first = settings.command.first, let program = expand(first, values) else { return [] }
        var missing: [(path: String, message: String)] = []
        if program.contains("/") {
            if let path = resolve(program, in: directory), !probe.isExecutableFile(path) {
                missing.append(
                    (
                        path,
                        probe.exists(path)
                            ? "program \(path) is not an executable file" : "program \(path) does not exist"
                    )
                )
            }
        } else {
            let search =
                settings.env["PATH"].flatMap { expand($0, values) } ?? environment["PATH"]
                ?? "/usr/local/bin:/usr/bin:/bin"
            let found = search.split(separator: ":").contains { entry in
                !entry.isEmpty && probe.isExecutableFile(String(entry) + "/" + program)
            }
            if !found { missing.append((program, "program \(program) is not found in PATH (\(search))")) }
        }
        let name = program.split(separator: "/").last.map(String.init) ?? program
        // python3 or python3.12
        let interpreter = interpreters.contains(name) || interpreters.contains { name.hasPrefix($0 + ".") }
        let arguments = Array(settings.command.dropFirst())
        var script: String?
        if interpreter, let argument = scriptArgument(arguments), let text = expand(argument, values),
            let path = resolve(text, in: directory)
        {
            script = path
            if !probe.exists(path) { missing.append((path, "script \(path) does not exist")) }
        }
        // Files named inside the checkout or beside the config (a wrapper's script, a data file) must be there too.
        for argument in arguments where argument.hasPrefix("{repo_root}/") || argument.hasPrefix("{config_dir}/") {
            guard let path = expand(argument, values), path != script, !probe.exists(path) else { continue }
            missing.append((path, "\(path) does not exist"))
        }
        return missing
    }

    /// An interpreter's script: its first argument that is not an option, if it looks like a file (a '/' or a
    /// script's extension: an option's value does not); nil when the code comes inline or from a module.
    public static func scriptArgument(_ arguments: [String]) -> String? {
        for argument in arguments {
            if ["-c", "-m", "-e", "-", "--eval"].contains(argument) { return nil }
            if argument.hasPrefix("-") { continue }
            let scriptExtensions = [".py", ".sh", ".js", ".mjs", ".ts", ".pl", ".rb", ".R", ".lua", ".php"]
            return argument.contains("/") || scriptExtensions.contains(where: argument.hasSuffix) ? argument : nil
        }
        return nil
    }

    private static func resolve(_ path: String, in directory: String?) -> String? {
        if path.hasPrefix("/") { return path }
        return directory.map { FileSystem.resolve(path, against: $0) }
    }

    /// `text` expanded, or nil when it needs a placeholder known only at run time (or cannot be expanded).
    private static func expand(_ text: String, _ values: [String: String]) -> String? {
        try? Placeholders.expand(text) { values[$0] }.get()
    }
}
