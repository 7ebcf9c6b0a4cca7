#if canImport(Glibc)
import Glibc
#endif

/// Command-line settings that override everything else.
public struct ConfigOverrides: Sendable, Equatable {
    public var stateDir: String?
    public var runtimeDir: String?
    public var socket: String?
    public var repoRoot: String?
    public var mode: PipelineMode?
    public var rounds: Int?
    public var autostart: Bool?

    public init(
        stateDir: String? = nil,
        runtimeDir: String? = nil,
        socket: String? = nil,
        repoRoot: String? = nil,
        mode: PipelineMode? = nil,
        rounds: Int? = nil,
        autostart: Bool? = nil
    ) {
        self.stateDir = stateDir
        self.runtimeDir = runtimeDir
        self.socket = socket
        self.repoRoot = repoRoot
        self.mode = mode
        self.rounds = rounds
        self.autostart = autostart
    }
}

/// Loads the configuration: built-in defaults < YAML file < environment < command-line flags (SPEC §3).
public enum ConfigLoader {
    public static let systemConfigPath = "/etc/heidi/heidi.yaml"

    /// The config file to read: `explicit`, else `$HEIDI_CONFIG`, else `/etc/heidi/heidi.yaml` if present.
    public static func configPath(explicit: String?, environment: [String: String]) -> String? {
        if let explicit { return explicit }
        if let fromEnv = environment["HEIDI_CONFIG"], !fromEnv.isEmpty { return fromEnv }
        return FileSystem.exists(systemConfigPath) ? systemConfigPath : nil
    }

    public static func load(
        path explicit: String? = nil,
        environment: [String: String],
        overrides: ConfigOverrides = ConfigOverrides()
    ) throws(ConfigError) -> HeidiConfig {
        let path = configPath(explicit: explicit, environment: environment)
        let dirs = DefaultDirectories(environment: environment)
        var config = HeidiConfig(stateDir: dirs.stateDir, runtimeDir: dirs.runtimeDir)
        config.stages = defaultStages()
        var explicitSocket: String?
        if let path {
            let text: String
            do { text = String(decoding: try FileSystem.read(path), as: UTF8.self) } catch {
                throw ConfigError(
                    source: path,
                    key: "",
                    message: "cannot read the config file: \(errnoDescription(error.errno))"
                )
            }
            var reader = ConfigFileReader(path: path, config: config)
            try reader.read(text)
            config = reader.config
            explicitSocket = reader.socket
            config.source = absolute(path)
            config.configDirectory = FileSystem.dirname(config.source)
        }
        try EnvironmentOverrides.apply(environment, to: &config, socket: &explicitSocket)
        if let value = overrides.stateDir { config.stateDir = absolute(value) }
        if let value = overrides.runtimeDir { config.runtimeDir = absolute(value) }
        if let value = overrides.socket { explicitSocket = absolute(value) }
        if let value = overrides.repoRoot { config.repoRoot = absolute(value) }
        if let value = overrides.mode { config.mode = value }
        if let value = overrides.rounds {
            guard value >= 1 else {
                throw ConfigError(source: "command line", key: "--rounds", message: "must be at least 1")
            }
            config.rounds = value
        }
        if let value = overrides.autostart { config.autostart = value }
        config.socketPath = explicitSocket ?? (config.runtimeDir + "/heidi.sock")
        try validate(config)
        return config
    }

    static func absolute(_ path: String) -> String {
        FileSystem.resolve(path, against: FileSystem.currentDirectory())
    }

    /// The original engine's scripts under `{repo_root}` (what `config/heidi.yaml` documents).
    static func defaultStages() -> [Stage: StageConfig] {
        let data = "{run_dir}/data"
        return [
            .generate: StageConfig(command: [
                "python3", "{repo_root}/scripts/01_teacher_generate.py", "--samples", "{samples}",
                "--output", "\(data)/raw_round_{round}.jsonl", "--round", "{round}",
            ]),
            .validate: StageConfig(command: [
                "python3", "{repo_root}/scripts/02_validate_clean.py",
                "--input", "\(data)/raw_round_{round}.jsonl", "--output", "\(data)/clean_round_{round}.jsonl",
            ]),
            .test: StageConfig(command: [
                "python3", "{repo_root}/scripts/03_unit_test_gate.py",
                "--input", "\(data)/clean_round_{round}.jsonl", "--output", "\(data)/tested_round_{round}.jsonl",
            ]),
            .train: StageConfig(
                command: [
                    "python3", "{repo_root}/scripts/04_train_qlora.py", "--data", "\(data)/clean_round_{round}.jsonl",
                    "--output", "{run_dir}/out_lora_round_{round}",
                ],
                timeout: 43200,
                stopGrace: 120
            ),
            .eval: StageConfig(
                command: [
                    "python3", "{repo_root}/scripts/05_eval.py", "--adapter", "{run_dir}/out_lora_round_{round}/final",
                    "--data", "\(data)/clean_round_{round}.jsonl", "--output",
                    "{run_dir}/eval/report_round_{round}.json",
                ],
                allowFailure: true
            ),
        ]
    }

    static func validate(_ config: HeidiConfig) throws(ConfigError) {
        let known = Placeholders.builtIn.union(config.vars.keys)
        for stage in Stage.allCases {
            guard let settings = config.stages[stage] else { continue }
            let key = "stages.\(stage.rawValue)"
            if settings.command.isEmpty {
                throw ConfigError(source: config.source, key: "\(key).command", message: "must not be empty")
            }
            for text in settings.command + [settings.cwd ?? ""] + Array(settings.env.values) {
                switch Placeholders.names(in: text) {
                case .failure(let error): throw ConfigError(source: config.source, key: key, message: error.description)
                case .success(let names):
                    if let unknown = names.first(where: { !known.contains($0) }) {
                        throw ConfigError(
                            source: config.source,
                            key: key,
                            message: PlaceholderError.unknown(unknown).description
                        )
                    }
                }
            }
        }
        if !config.mockSubprocesses {
            for stage in config.activeStages where config.stages[stage] == nil {
                throw ConfigError(
                    source: config.source,
                    key: "stages.\(stage.rawValue)",
                    message: "no command configured for a stage this pipeline runs"
                )
            }
        }
    }
}

/// The default state and runtime directories for the current user and service manager (SPEC §3).
public struct DefaultDirectories: Sendable {
    public var stateDir: String
    public var runtimeDir: String

    public init(environment: [String: String]) {
        func first(_ value: String?) -> String? {
            // $STATE_DIRECTORY may list several directories separated by ':'.
            value.flatMap { $0.split(separator: ":").first.map(String.init) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        let uid = getuid()
        let home = environment["HOME"] ?? "/root"
        if let state = first(environment["STATE_DIRECTORY"]) {
            stateDir = state
        } else if uid == 0 {
            stateDir = "/var/lib/heidi"
        } else {
            stateDir =
                (environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.local/state") + "/heidi"
        }
        if let runtime = first(environment["RUNTIME_DIRECTORY"]) {
            runtimeDir = runtime
        } else if uid == 0 {
            runtimeDir = "/run/heidi"
        } else if let xdg = environment["XDG_RUNTIME_DIR"], !xdg.isEmpty {
            runtimeDir = xdg + "/heidi"
        } else {
            runtimeDir = "/tmp/heidi-\(uid)"
        }
    }
}
