import HeidiYAML

/// Reads a YAML config file onto a `HeidiConfig`, rejecting unknown keys and bad values with the file, line and
/// dotted key in the error. Relative paths are resolved against the config file's directory.
struct ConfigFileReader {
    let path: String
    var config: HeidiConfig
    /// `control.socket` when the file sets it (resolved later against runtime_dir otherwise).
    var socket: String?
    private var defaults = StageDefaults()
    /// Every value that may hold placeholders, with its node and dotted key: checked once the whole file is read
    /// (pipeline.vars may come after the stages), so a bad placeholder is reported where it was written.
    var placeholderSites: [(node: YAMLNode, key: String, text: String)] = []

    struct StageDefaults {
        var timeout: Double?
        var stopGrace: Double?
        var env: [String: String] = [:]
    }

    let fields: YAMLFields<ConfigError>

    init(path: String, config: HeidiConfig) {
        self.path = path
        self.config = config
        fields = YAMLFields { line, key, message in ConfigError(source: path, line: line, key: key, message: message) }
    }

    var baseDirectory: String {
        FileSystem.resolve(FileSystem.dirname(path), against: FileSystem.currentDirectory())
    }

    func fail(_ node: YAMLNode?, _ key: String, _ message: String) -> ConfigError {
        fields.fail(node, key, message)
    }

    mutating func read(_ text: String) throws(ConfigError) {
        guard let root = try fields.document(text) else { return }  // an empty file means defaults
        // stage_defaults is applied before stages wherever it appears in the file.
        let sections = try mapping(root, "").sorted {
            ($0.2 == "stage_defaults" ? 0 : 1) < ($1.2 == "stage_defaults" ? 0 : 1)
        }
        for (key, node, name) in sections {
            switch name {
            case "pipeline": try readPipeline(node, key)
            case "paths": try readPaths(node, key)
            case "control": try readControl(node, key)
            case "stage_defaults": try readStageDefaults(node, key)
            case "stages": try readStages(node, key)
            case "limits": try readLimits(node, key)
            case "journal": try readJournal(node, key)
            case "logs": try readLogs(node, key)
            case "web": continue  // heidi-web's settings (SPEC §12): heidi-web reads them, heidid does not
            default:
                throw fail(node, key, "unknown section (known: \(ConfigKeys.sections.joined(separator: ", ")))")
            }
        }
        try checkPlaceholders()
        // stage_defaults apply to every stage that does not set its own value; the file order must not matter.
        for stage in Stage.allCases {
            guard var settings = config.stages[stage] else { continue }
            settings.env = defaults.env.merging(settings.env) { _, own in own }
            config.stages[stage] = settings
        }
    }

    /// Each recorded value's placeholders are balanced and known (built in or a key of pipeline.vars).
    private func checkPlaceholders() throws(ConfigError) {
        let vars = Set(config.vars.keys)
        let known = Placeholders.builtIn.union(vars)
        for site in placeholderSites {
            switch Placeholders.names(in: site.text) {
            case .failure(let error): throw fail(site.node, site.key, error.describe(vars: vars))
            case .success(let names):
                if let name = names.first(where: { !known.contains($0) }) {
                    throw fail(site.node, site.key, PlaceholderError.unknown(name).describe(vars: vars))
                }
            }
        }
    }

    // MARK: Sections

    private mutating func readPipeline(_ node: YAMLNode, _ prefix: String) throws(ConfigError) {
        for (key, value, name) in try mapping(node, prefix) {
            switch name {
            case "mode": config.mode = try enumeration(value, key, PipelineMode.self)
            case "rounds": config.rounds = try integer(value, key, minimum: 1)
            case "run_unit_tests": config.runUnitTests = try boolean(value, key)
            case "autostart": config.autostart = try boolean(value, key)
            case "recovery": config.recovery = try enumeration(value, key, RecoveryPolicy.self)
            case "engine_env": config.engineEnvironment = try boolean(value, key)
            case "vars":
                for (varKey, varValue, varName) in try mapping(value, key) {
                    guard !Placeholders.builtIn.contains(varName) else {
                        throw fail(varValue, varKey, "shadows the built-in placeholder {\(varName)}")
                    }
                    config.vars[varName] = try scalar(varValue, varKey)
                }
            default: throw unknown(value, key, ConfigKeys.pipeline)
            }
        }
    }

    private mutating func readPaths(_ node: YAMLNode, _ prefix: String) throws(ConfigError) {
        for (key, value, name) in try mapping(node, prefix) {
            switch name {
            case "state_dir": config.stateDir = try pathValue(value, key)
            case "runtime_dir": config.runtimeDir = try pathValue(value, key)
            case "repo_root": config.repoRoot = try pathValue(value, key)
            default: throw unknown(value, key, ConfigKeys.paths)
            }
        }
    }

    private mutating func readControl(_ node: YAMLNode, _ prefix: String) throws(ConfigError) {
        for (key, value, name) in try mapping(node, prefix) {
            switch name {
            case "socket": socket = try pathValue(value, key)
            case "group":
                let group = try scalar(value, key)
                config.controlGroup = group.isEmpty ? nil : group
            default: throw unknown(value, key, ConfigKeys.control)
            }
        }
    }

    private mutating func readStageDefaults(_ node: YAMLNode, _ prefix: String) throws(ConfigError) {
        for (key, value, name) in try mapping(node, prefix) {
            switch name {
            case "timeout": defaults.timeout = try timeout(value, key)
            case "stop_grace": defaults.stopGrace = try duration(value, key)
            case "env": defaults.env = try stringMap(value, key)
            default: throw unknown(value, key, ConfigKeys.stageDefaults)
            }
        }
        for stage in Stage.allCases {
            // Built-in stages take the defaults too; stages the file configures are read afterwards.
            if let timeout = defaults.timeout { config.stages[stage]?.timeout = timeout }
            if let grace = defaults.stopGrace { config.stages[stage]?.stopGrace = grace }
        }
    }

    private mutating func readStages(_ node: YAMLNode, _ prefix: String) throws(ConfigError) {
        for (key, value, name) in try mapping(node, prefix) {
            guard let stage = Stage(rawValue: name) else {
                throw fail(
                    value,
                    key,
                    "unknown stage (known: \(Stage.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            try readStage(stage, value, key)
        }
    }

    private mutating func readStage(_ stage: Stage, _ node: YAMLNode, _ prefix: String) throws(ConfigError) {
        var settings = StageConfig(
            command: [],
            timeout: defaults.timeout ?? (stage == .train ? 43200 : 7200),
            stopGrace: defaults.stopGrace ?? (stage == .train ? 120 : 10),
            allowFailure: stage == .eval
        )
        var sawCommand = false
        var executorName = "local"
        var slurm: (settings: SlurmJobSettings, node: YAMLNode, key: String)?
        for (key, value, name) in try mapping(node, prefix) {
            switch name {
            case "command":
                sawCommand = true
                settings.command = try command(value, key)
            case "cwd":
                settings.cwd = try pathValue(value, key)
                placeholderSites.append((value, key, try scalar(value, key)))
            case "env": settings.env = try stringMap(value, key)
            case "timeout": settings.timeout = try timeout(value, key)
            case "stop_grace": settings.stopGrace = try duration(value, key)
            case "allow_failure": settings.allowFailure = try boolean(value, key)
            case "retries": settings.retries = try integer(value, key, minimum: 0)
            case "retry_backoff": settings.retryBackoff = try duration(value, key)
            case "retry_backoff_max": settings.retryBackoffMax = try duration(value, key)
            case "no_retry_exit_codes":
                guard case .sequence(let codes) = value.content else {
                    throw fail(value, key, "expected a list of exit codes, e.g. [2, 64]")
                }
                settings.noRetryExitCodes = []
                for code in codes { settings.noRetryExitCodes.append(try integer(code, key, minimum: 0)) }
            case "watchdog": settings.watchdog = try duration(value, key)
            case "progress":
                switch ProgressFormat.parse(try scalar(value, key)) {
                case .success(let format): settings.progress = format
                case .failure(let error): throw fail(value, key, error.description)
                }
            case "rlimits":
                for (limitKey, limitValue, limitName) in try mapping(value, key) {
                    guard ConfigKeys.rlimits.contains(limitName) else {
                        throw unknown(limitValue, limitKey, ConfigKeys.rlimits)
                    }
                    guard let amount = Units.parseSize(try scalar(limitValue, limitKey)) else {
                        throw fail(limitValue, limitKey, "expected a non-negative number (sizes may use KiB/MiB/GiB)")
                    }
                    settings.rlimits[limitName] = amount
                }
            case "executor":
                executorName = try scalar(value, key)
                guard ["local", "slurm"].contains(executorName) else {
                    throw fail(value, key, "unknown executor \"\(executorName)\" (known: local, slurm)")
                }
            case "slurm": slurm = (try SlurmSettingsReader(path: path).read(value, key), value, key)
            case "queue_timeout": settings.queueTimeout = try timeout(value, key)
            default:
                throw unknown(value, key, ConfigKeys.stage)
            }
        }
        guard sawCommand else { throw fail(node, prefix, "missing 'command'") }
        try applyExecutor(executorName, slurm: slurm, to: &settings, node, prefix)
        config.stages[stage] = settings
        config.defaultedStages.remove(stage)
    }

    /// `executor: slurm` takes the stage's `slurm:` settings; `slurm:` and `queue_timeout` mean nothing to a local stage,
    /// and Slurm's own time limit must stay a backstop above heidi's timeout.
    private func applyExecutor(
        _ name: String,
        slurm: (settings: SlurmJobSettings, node: YAMLNode, key: String)?,
        to settings: inout StageConfig,
        _ node: YAMLNode,
        _ prefix: String
    ) throws(ConfigError) {
        guard name == "slurm" else {
            if let slurm {
                throw fail(
                    slurm.node,
                    slurm.key,
                    "only an executor: slurm stage takes slurm settings (add executor: slurm)"
                )
            }
            if settings.queueTimeout != nil {
                throw fail(node, prefix + ".queue_timeout", "only an executor: slurm stage waits in a queue")
            }
            return
        }
        let job = slurm?.settings ?? SlurmJobSettings()
        if let limit = job.timeLimit, limit <= settings.timeout + settings.stopGrace, let slurm {
            throw fail(
                slurm.node,
                slurm.key + ".time_limit",
                "\(Units.formatDuration(limit)) is not above timeout + stop_grace (\(Units.formatDuration(settings.timeout + settings.stopGrace))): "
                    + "Slurm's limit is a backstop, heidi's timeout must fire first"
            )
        }
        settings.executor = .slurm(job)
    }

    private mutating func readLimits(_ node: YAMLNode, _ prefix: String) throws(ConfigError) {
        for (key, value, name) in try mapping(node, prefix) {
            switch name {
            case "max_cpu_pct": config.maxCPUPercent = try percent(value, key)
            case "max_mem_pct": config.maxMemoryPercent = try percent(value, key)
            case "max_wait": config.maxWait = try duration(value, key)
            default: throw unknown(value, key, ConfigKeys.limits)
            }
        }
    }

    private mutating func readJournal(_ node: YAMLNode, _ prefix: String) throws(ConfigError) {
        for (key, value, name) in try mapping(node, prefix) {
            switch name {
            case "fsync": config.journalFsync = try enumeration(value, key, FsyncPolicy.self)
            case "batch_delay":
                config.journalBatchDelay = try duration(value, key)
                guard config.journalBatchDelay > 0, config.journalBatchDelay <= 1 else {
                    throw fail(value, key, "must be between 1ms and 1s")
                }
            case "rotate_size": config.journalRotateSize = try size(value, key)
            case "keep_rotated": config.journalKeepRotated = try integer(value, key, minimum: 0)
            case "key_file": config.journalKeyFile = try pathValue(value, key)
            case "checkpoint_interval":
                config.journalCheckpointInterval = try duration(value, key)
                guard config.journalCheckpointInterval >= 1 else { throw fail(value, key, "must be at least 1s") }
            default: throw unknown(value, key, ConfigKeys.journal)
            }
        }
    }

    private mutating func readLogs(_ node: YAMLNode, _ prefix: String) throws(ConfigError) {
        for (key, value, name) in try mapping(node, prefix) {
            switch name {
            case "max_size": config.logMaxSize = try size(value, key)
            case "journald": config.logsToJournald = try boolean(value, key)
            default: throw unknown(value, key, ConfigKeys.logs)
            }
        }
    }
}
