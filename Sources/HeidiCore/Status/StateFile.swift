import FoundationEssentials

/// `state.json` (SPEC §8): the status object plus the original engine's keys, written atomically on every transition.
public struct StateFile: Sendable, Equatable, Codable {
    public var status: StatusSnapshot
    /// `idle` | `running` | `paused` | `completed` | `stopped` | `error`
    public var legacyStatus: String
    /// Whether the run had a child running (recovery re-runs that stage).
    public var stageActive: Bool
    public var runUnitTests: Bool
    /// Allowed stage failures of the run so far (its completion event counts them).
    public var allowedFailures: Int
    /// The running stage's `HEIDI_STAGE_INSTANCE` marker and cgroup: after a crash, recovery finds every process of
    /// the interrupted stage by them, escapers that left its process group included.
    public var stageInstance: String?
    public var stageCgroup: String?
    /// The running stage's executor record when it runs elsewhere (a Slurm job's name and id): recovery hands it back
    /// to the launcher, which re-attaches to the job instead of starting the stage again.
    public var stageExecutor: ExecutorRecord?
    /// The running stage's attempt number (1 for the first): a re-attached stage goes on counting from it, so its
    /// failure leaves only the retries that were left.
    public var stageAttempt: Int?

    public init(
        status: StatusSnapshot,
        legacyStatus: String,
        stageActive: Bool,
        runUnitTests: Bool,
        allowedFailures: Int = 0,
        stageInstance: String? = nil,
        stageCgroup: String? = nil,
        stageExecutor: ExecutorRecord? = nil,
        stageAttempt: Int? = nil
    ) {
        self.status = status
        self.legacyStatus = legacyStatus
        self.stageActive = stageActive
        self.runUnitTests = runUnitTests
        self.allowedFailures = allowedFailures
        self.stageInstance = stageInstance
        self.stageCgroup = stageCgroup
        self.stageExecutor = stageExecutor
        self.stageAttempt = stageAttempt
    }

    enum ExtraKeys: String, CodingKey {
        case status
        case currentRound = "current_round"
        case currentStage = "current_stage"
        case stageActive = "stage_active"
        case runUnitTests = "run_unit_tests"
        case allowedFailures = "allowed_failures"
        case stageInstance = "stage_instance"
        case stageCgroup = "stage_cgroup"
        case stageExecutor = "stage_executor"
        case stageAttempt = "stage_attempt"
    }

    public init(from decoder: any Decoder) throws {
        status = try StatusSnapshot(from: decoder)
        let c = try decoder.container(keyedBy: ExtraKeys.self)
        legacyStatus = try c.decode(String.self, forKey: .status)
        stageActive = try c.decodeIfPresent(Bool.self, forKey: .stageActive) ?? false
        runUnitTests = try c.decodeIfPresent(Bool.self, forKey: .runUnitTests) ?? false
        allowedFailures = try c.decodeIfPresent(Int.self, forKey: .allowedFailures) ?? 0
        stageInstance = try c.decodeIfPresent(String.self, forKey: .stageInstance)
        stageCgroup = try c.decodeIfPresent(String.self, forKey: .stageCgroup)
        stageExecutor = try c.decodeIfPresent(ExecutorRecord.self, forKey: .stageExecutor)
        stageAttempt = try c.decodeIfPresent(Int.self, forKey: .stageAttempt)
    }

    public func encode(to encoder: any Encoder) throws {
        try status.encode(to: encoder)
        var c = encoder.container(keyedBy: ExtraKeys.self)
        try c.encode(legacyStatus, forKey: .status)
        try c.encode(status.round, forKey: .currentRound)
        try c.encode(status.stage, forKey: .currentStage)
        try c.encode(stageActive, forKey: .stageActive)
        try c.encode(runUnitTests, forKey: .runUnitTests)
        try c.encode(allowedFailures, forKey: .allowedFailures)
        try c.encode(stageInstance, forKey: .stageInstance)
        try c.encode(stageCgroup, forKey: .stageCgroup)
        try c.encodeIfPresent(stageExecutor, forKey: .stageExecutor)
        try c.encodeIfPresent(stageAttempt, forKey: .stageAttempt)
    }

    /// Writes `state.json` atomically (temp file, fsync, rename, fsync directory).
    public func write(to path: String) throws {
        try FileSystem.writeAtomically(path, Array(try JSONCoding.encode(self)) + [0x0a])
    }

    /// Reads `state.json`; nil when the file does not exist.
    public static func read(from path: String) throws -> StateFile? {
        guard FileSystem.exists(path) else { return nil }
        let bytes = try FileSystem.read(path)
        return try JSONDecoder().decode(StateFile.self, from: Data(bytes))
    }

    /// The pipeline state a restarted daemon continues from.
    public var pipelineState: PipelineState {
        var state = PipelineState()
        state.phase = status.state
        state.mode = status.mode
        state.runID = status.runID
        state.round = status.round
        state.rounds = status.rounds
        state.runUnitTests = runUnitTests
        state.stageRun = status.stopping ? .stopping : (stageActive ? .running : .none)
        state.hold = status.paused ? .paused : (status.pauseRequested ? .requested : .none)
        state.trainNow = status.awaitingTrainNow ? .awaited : (status.trainNowPending ? .queued : .none)
        state.lastError = status.lastError
        state.lastWarning = status.lastWarning
        state.allowedFailures = allowedFailures
        if status.state == .idle, let ending = RunEnding(rawValue: legacyStatus) { state.lastRunEnding = ending }
        return state
    }
}

/// JSON encoding shared by the daemon and heidictl: no escaped slashes, sorted keys (stable output for diffs).
public enum JSONCoding {
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return Array(try encoder.encode(value))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
