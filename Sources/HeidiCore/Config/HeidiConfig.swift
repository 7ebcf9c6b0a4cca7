/// One stage's fully resolved settings (defaults applied, placeholders not yet expanded).
public struct StageConfig: Sendable, Equatable {
    public var command: [String]
    public var cwd: String?
    public var env: [String: String]
    /// Seconds before the stage is killed as timed out.
    public var timeout: Double
    /// Seconds between SIGTERM and SIGKILL on timeout or stop.
    public var stopGrace: Double
    /// A failure is recorded as `warn` and the run continues (eval by default).
    public var allowFailure: Bool
    /// Extra attempts after a failure (exit, signal, timeout), with exponential backoff and jitter.
    public var retries: Int
    /// The delay before the first retry; doubled for each further one, capped at `retryBackoffMax`.
    public var retryBackoff: Double
    public var retryBackoffMax: Double
    /// Exit codes that mean "do not try again" (e.g. a usage error).
    public var noRetryExitCodes: [Int]
    /// setrlimit values by name (`nofile`, `as`, `cpu`, `core`, `nproc`), applied to the stage before it starts.
    public var rlimits: [String: Int64]
    /// Seconds within which the stage must send `WATCHDOG=1` on its progress channel (nil: not required).
    public var watchdog: Double?
    /// How the stage's output is read for `child.progress` (nil: it is not).
    public var progress: ProgressFormat?
    /// Where the command runs: here (`local`) or as a Slurm batch job (docs/slurm.md).
    public var executor: StageExecutor = .local
    /// Seconds a batch job may wait in the scheduler's queue before heidi cancels it (nil: no limit); `timeout`
    /// counts from when it runs.
    public var queueTimeout: Double?

    public init(
        command: [String],
        cwd: String? = nil,
        env: [String: String] = [:],
        timeout: Double = 7200,
        stopGrace: Double = 10,
        allowFailure: Bool = false,
        retries: Int = 0,
        retryBackoff: Double = 10,
        retryBackoffMax: Double = 600,
        noRetryExitCodes: [Int] = [],
        rlimits: [String: Int64] = [:],
        watchdog: Double? = nil,
        progress: ProgressFormat? = nil
    ) {
        self.command = command
        self.cwd = cwd
        self.env = env
        self.timeout = timeout
        self.stopGrace = stopGrace
        self.allowFailure = allowFailure
        self.retries = retries
        self.retryBackoff = retryBackoff
        self.retryBackoffMax = retryBackoffMax
        self.noRetryExitCodes = noRetryExitCodes
        self.rlimits = rlimits
        self.watchdog = watchdog
        self.progress = progress
    }
}

/// What to do with a run that was interrupted by a daemon restart.
public enum RecoveryPolicy: String, Sendable, CaseIterable {
    case resume, idle
}

/// The daemon's configuration after defaults, file, environment and flags (SPEC §3).
public struct HeidiConfig: Sendable, Equatable {
    // pipeline
    public var mode: PipelineMode = .collect
    public var rounds = 3
    public var runUnitTests = false
    public var autostart = false
    public var recovery: RecoveryPolicy = .resume
    /// `pipeline.engine_env`: stages also get the variables the original engine's loop.sh exported (SPEC §11,
    /// `EngineEnvironment`).
    public var engineEnvironment = false
    /// Extra placeholders; `samples` (the original engine's SAMPLES_PER_ROUND, 50) is always defined.
    public var vars: [String: String] = ["samples": "50"]
    // paths
    public var stateDir: String
    public var runtimeDir: String
    public var repoRoot = "/opt/heidi-engine"
    // control
    public var socketPath: String
    public var controlGroup: String? = "heidi"
    // stages
    public var stages: [Stage: StageConfig] = [:]
    /// Stages the config file does not define: they run the built-in commands (the original engine's scripts).
    public var defaultedStages: Set<Stage> = Set(Stage.allCases)
    // limits
    public var maxCPUPercent: Double = 90
    public var maxMemoryPercent: Double = 90
    public var maxWait: Double = 3600
    // journal and logs
    public var journalFsync: FsyncPolicy = .always
    /// `batch`: how long an appended event waits until its group is durable, fdatasync included (seconds).
    public var journalBatchDelay: Double = 0.010
    public var journalRotateSize: Int64 = 64 << 20
    /// Rotated journal files to keep; older ones are pruned with a `journal_pruned` record (0 keeps all).
    public var journalKeepRotated = 0
    /// `journal.key_file`: the checkpoint signing key; nil means `<state_dir>/journal.key`.
    public var journalKeyFile: String?
    /// Seconds between signed checkpoints (also written when idle).
    public var journalCheckpointInterval: Double = 900
    public var logMaxSize: Int64 = 64 << 20
    public var logsToJournald = true
    // process-level
    /// `HEIDI_MOCK_SUBPROCESSES=1`: stages succeed without spawning anything.
    public var mockSubprocesses = false
    /// `RUN_ID`: the id of the next run instead of a generated one.
    public var nextRunID: String?
    /// Where the settings came from (the file path, or "built-in defaults"), for messages.
    public var source = "built-in defaults"
    /// The directory of the config file (`{config_dir}`); the working directory for built-in defaults.
    public var configDirectory: String?

    public init(stateDir: String, runtimeDir: String) {
        self.stateDir = stateDir
        self.runtimeDir = runtimeDir
        self.socketPath = runtimeDir + "/heidi.sock"
    }

    public var journalPath: String { stateDir + "/events.jsonl" }
    /// The checkpoint key: `journal.key_file`, else `<state_dir>/journal.key` (created on first use, mode 0600).
    public var journalKeyPath: String { journalKeyFile ?? stateDir + "/journal.key" }
    public var stateFilePath: String { stateDir + "/state.json" }
    public var lockPath: String { stateDir + "/heidid.lock" }
    public func runDirectory(_ runID: String) -> String { stateDir + "/runs/" + runID }

    /// The stages a run with these settings executes, in order.
    public var activeStages: [Stage] { Stage.allCases.filter { $0 != .test || runUnitTests } }
}
