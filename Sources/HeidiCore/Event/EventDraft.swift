/// Severity of a journal event; the strings are part of the journal format.
public enum EventLevel: String, Sendable, CaseIterable, Codable {
    case debug, info, warn, error, critical

    /// syslog priority for journald (`PRIORITY=`).
    public var syslogPriority: Int {
        switch self {
        case .debug: return 7
        case .info: return 6
        case .warn: return 4
        case .error: return 3
        case .critical: return 2
        }
    }
}

/// The catalogue of journal event types (SPEC §7).
public enum EventType: String, Sendable, CaseIterable, Codable {
    case daemonStart = "daemon_start"
    case daemonStop = "daemon_stop"
    case journalRepaired = "journal_repaired"
    case runRecovered = "run_recovered"
    case pipelineStart = "pipeline_start"
    case roundStart = "round_start"
    case stageStart = "stage_start"
    case stageEnd = "stage_end"
    case stageRetry = "stage_retry"
    case stageTimeout = "stage_timeout"
    case pipelineThrottled = "pipeline_throttled"
    case pipelineError = "pipeline_error"
    case pipelineComplete = "pipeline_complete"
    case pipelineStop = "pipeline_stop"
    case trainNowTrigger = "train_now_trigger"
    case paused
    case resumed
    case reset
    case configReloaded = "config_reloaded"
    case roundCollected = "round_collected"
    /// A signed statement of the chain head (seq, hash of the line before it); see `Checkpoint`.
    case checkpoint
    /// Retention removed a rotated journal file; the message says which seqs and their last hash (`PruneRecord`).
    case journalPruned = "journal_pruned"
    /// Journal writes work again after failing (disk full, EIO); the message says for how long and what was lost.
    case journalRecovered = "journal_recovered"
    /// heidid found its journal damaged when it started (lines cut off, changed or missing): the message says what
    /// was found, which bytes were moved aside (and their SHA-256), and where the chain goes on. Level critical;
    /// `heidictl journal verify` reports it (verdict `damaged`) for as long as the journal holds it.
    case journalDamaged = "journal_damaged"
    /// A stage that runs elsewhere (a batch scheduler's job) has a new executor record: before submission the intent
    /// (for Slurm its job name and output file), after it the job id, and each requeue; the message lists the
    /// record's fields. `state.json` holds the same record durably for recovery (SPEC §13).
    case stageExecutor = "stage_executor"

    /// A stable journald `MESSAGE_ID` (128-bit, hex) per event type, so `journalctl MESSAGE_ID=…` finds them.
    public var messageID: String {
        let digest = SHA256.hex(Array(("heidi.event." + rawValue).utf8))
        return String(digest.prefix(32))
    }
}

/// What the engine wants recorded; the writer adds `seq`, `ts` and `prev_hash`.
public struct EventDraft: Sendable, Equatable {
    public var type: EventType
    public var level: EventLevel
    public var message: String
    public var runID: String?
    public var round: Int
    public var stage: String?
    public var countersDelta: [String: Double]
    public var usageDelta: [String: Double]
    public var artifactPaths: [String]

    public init(
        _ type: EventType,
        level: EventLevel = .info,
        message: String,
        runID: String? = nil,
        round: Int = 0,
        stage: String? = nil,
        countersDelta: [String: Double] = [:],
        usageDelta: [String: Double] = [:],
        artifactPaths: [String] = []
    ) {
        self.type = type
        self.level = level
        self.message = message
        self.runID = runID
        self.round = round
        self.stage = stage
        self.countersDelta = countersDelta
        self.usageDelta = usageDelta
        self.artifactPaths = artifactPaths
    }
}

/// One journal line as written: the draft plus chain fields, its exact bytes and their hash.
public struct WrittenEvent: Sendable, Equatable {
    public var draft: EventDraft
    public var seq: UInt64
    public var timestamp: Timestamp
    public var prevHash: String
    /// The exact line bytes, including the trailing `\n`.
    public var line: [UInt8]
    /// SHA-256 (hex) of `line`: the next line's `prev_hash`.
    public var hash: String

    public init(draft: EventDraft, seq: UInt64, timestamp: Timestamp, prevHash: String, line: [UInt8], hash: String) {
        self.draft = draft
        self.seq = seq
        self.timestamp = timestamp
        self.prevHash = prevHash
        self.line = line
        self.hash = hash
    }
}
