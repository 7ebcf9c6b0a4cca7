/// The running child as reported in the status object.
public struct ChildStatus: Sendable, Equatable, Codable {
    public var pid: Int32
    public var pgid: Int32
    public var argv: [String]
    public var startedAt: String
    public var elapsedSeconds: Double
    public var timeoutSeconds: Double
    /// The last `STATUS=` line the stage sent on its progress channel.
    public var status: String?
    /// Process start time in clock ticks since boot (`/proc/PID/stat` field 22), so recovery never kills a reused pid.
    public var startTicks: UInt64?
    /// The sums of the stage's `X_HEIDI_COUNTERS` so far (nil: it has no progress channel).
    public var counters: [String: Double]?
    /// The sums of the stage's `X_HEIDI_USAGE` so far.
    public var usage: [String: Double]?
    /// Progress read from the stage's output (`progress:`), nil until a progress line was seen.
    public var progress: ChildProgress?
    /// For a stage that runs elsewhere (`executor: slurm`): its executor's facts (`executor`, `job_id`, `state`,
    /// `nodes`, `pending_seconds`, `running_seconds`, …); absent for a local child, whose `pid` says where it is.
    public var executor: [String: String]?

    public init(
        pid: Int32,
        pgid: Int32,
        argv: [String],
        startedAt: String,
        elapsedSeconds: Double,
        timeoutSeconds: Double,
        status: String?,
        startTicks: UInt64?,
        counters: [String: Double]? = nil,
        usage: [String: Double]? = nil,
        progress: ChildProgress? = nil,
        executor: [String: String]? = nil
    ) {
        self.pid = pid
        self.pgid = pgid
        self.argv = argv
        self.startedAt = startedAt
        self.elapsedSeconds = elapsedSeconds
        self.timeoutSeconds = timeoutSeconds
        self.status = status
        self.startTicks = startTicks
        self.counters = counters
        self.usage = usage
        self.progress = progress
        self.executor = executor
    }

    enum CodingKeys: String, CodingKey {
        case pid, pgid, argv
        case startedAt = "started_at"
        case elapsedSeconds = "elapsed_s"
        case timeoutSeconds = "timeout_s"
        case status
        case startTicks = "start_ticks"
        case counters, usage, progress, executor
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(pid, forKey: .pid)
        try c.encode(pgid, forKey: .pgid)
        try c.encode(argv, forKey: .argv)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(elapsedSeconds, forKey: .elapsedSeconds)
        try c.encode(timeoutSeconds, forKey: .timeoutSeconds)
        try c.encode(status, forKey: .status)
        try c.encode(startTicks, forKey: .startTicks)
        try c.encode(counters, forKey: .counters)
        try c.encode(usage, forKey: .usage)
        try c.encode(progress, forKey: .progress)
        try c.encodeIfPresent(executor, forKey: .executor)
    }
}

/// Where the journal is and its chain head.
public struct JournalHead: Sendable, Equatable, Codable {
    public var path: String
    public var seq: UInt64
    public var head: String
    /// The latest damage the journal records (`journal_damaged`: found when heidid started), else null.
    public var damage: String?

    public init(path: String, seq: UInt64, head: String, damage: String? = nil) {
        self.path = path
        self.seq = seq
        self.head = head
        self.damage = damage
    }

    enum CodingKeys: String, CodingKey { case path, seq, head, damage }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        seq = try c.decode(UInt64.self, forKey: .seq)
        head = try c.decode(String.self, forKey: .head)
        damage = try c.decodeIfPresent(String.self, forKey: .damage)
    }

    /// Every key, `null` included (like the rest of the status object).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(damage, forKey: .damage)
        try c.encode(head, forKey: .head)
        try c.encode(path, forKey: .path)
        try c.encode(seq, forKey: .seq)
    }
}

/// The status object of the API (SPEC §5); every key is always present, `null` where not applicable.
public struct StatusSnapshot: Sendable, Equatable, Codable {
    public var apiVersion = 1
    public var version: String
    public var pid: Int32
    public var startedAt: String
    public var state: PipelinePhase
    public var mode: PipelineMode
    public var runID: String?
    public var round: Int
    public var rounds: Int
    public var stage: String?
    public var paused: Bool
    public var pauseRequested: Bool
    public var trainNowPending: Bool
    /// Collect mode: a round is collected and the run waits for train-now.
    public var awaitingTrainNow: Bool
    public var stopping: Bool
    public var child: ChildStatus?
    public var lastError: PipelineFailure?
    /// The last stage failure the run was allowed to go on after (`allow_failure`); null when none since the start.
    public var lastWarning: PipelineFailure?
    public var journal: JournalHead
    /// Which whole-tree kill mechanism supervises children (`subreaper+pgroup`, later `cgroup`).
    public var supervision: String
    public var updatedAt: String

    public init(
        version: String,
        pid: Int32,
        startedAt: String,
        state: PipelinePhase,
        mode: PipelineMode,
        runID: String?,
        round: Int,
        rounds: Int,
        stage: String?,
        paused: Bool,
        pauseRequested: Bool,
        trainNowPending: Bool,
        awaitingTrainNow: Bool,
        stopping: Bool,
        child: ChildStatus?,
        lastError: PipelineFailure?,
        lastWarning: PipelineFailure? = nil,
        journal: JournalHead,
        supervision: String,
        updatedAt: String
    ) {
        self.version = version
        self.pid = pid
        self.startedAt = startedAt
        self.state = state
        self.mode = mode
        self.runID = runID
        self.round = round
        self.rounds = rounds
        self.stage = stage
        self.paused = paused
        self.pauseRequested = pauseRequested
        self.trainNowPending = trainNowPending
        self.awaitingTrainNow = awaitingTrainNow
        self.stopping = stopping
        self.child = child
        self.lastError = lastError
        self.lastWarning = lastWarning
        self.journal = journal
        self.supervision = supervision
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case apiVersion = "api_version"
        case version, pid
        case startedAt = "started_at"
        case state, mode
        case runID = "run_id"
        case round, rounds
        case stage, paused
        case pauseRequested = "pause_requested"
        case trainNowPending = "train_now_pending"
        case awaitingTrainNow = "awaiting_train_now"
        case stopping, child
        case lastError = "last_error"
        case lastWarning = "last_warning"
        case journal, supervision
        case updatedAt = "updated_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(apiVersion, forKey: .apiVersion)
        try c.encode(version, forKey: .version)
        try c.encode(pid, forKey: .pid)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(state, forKey: .state)
        try c.encode(mode, forKey: .mode)
        try c.encode(runID, forKey: .runID)
        try c.encode(round, forKey: .round)
        try c.encode(rounds, forKey: .rounds)
        try c.encode(stage, forKey: .stage)
        try c.encode(paused, forKey: .paused)
        try c.encode(pauseRequested, forKey: .pauseRequested)
        try c.encode(trainNowPending, forKey: .trainNowPending)
        try c.encode(awaitingTrainNow, forKey: .awaitingTrainNow)
        try c.encode(stopping, forKey: .stopping)
        try c.encode(child, forKey: .child)
        try c.encode(lastError, forKey: .lastError)
        try c.encode(lastWarning, forKey: .lastWarning)
        try c.encode(journal, forKey: .journal)
        try c.encode(supervision, forKey: .supervision)
        try c.encode(updatedAt, forKey: .updatedAt)
    }
}
