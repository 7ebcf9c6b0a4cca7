import HeidiCore

/// How the lines of a journal check out.
public enum VerificationOutcome: Sendable, Equatable {
    /// Every line parses, chains and continues; every anchor, checkpoint and journald head given agrees.
    case intact
    /// Intact up to a partial last line (a crash mid-write); heidid cuts it off on its next start.
    case tornTail(bytes: Int)
    /// The first line that is wrong, and why.
    case broken(file: String, line: Int, reason: String)
}

/// The verdict `heidictl journal verify` reports (and `--json` prints as `verdict`).
public enum Verdict: String, Sendable {
    /// Intact, and (with a key) sealed up to its last line, or the journal has no checkpoints and no key was given.
    case intact
    /// Intact, but the lines after the last checkpoint are not sealed yet (`unsealedLines` says how many).
    case intactUnsealedTail = "intact_unsealed_tail"
    /// Intact up to a partial last line left by a crash (recoverable).
    case tornTail = "torn_tail"
    /// A line, the chain, a checkpoint or an anchor is wrong (tampering, damage, deletion or truncation).
    case broken
    /// The chain verifies as it stands, but it records damage heidid found when it started (`journal_damaged`
    /// events: lines cut off, changed or missing, the bytes kept aside). It stays on record: a restart never
    /// turns a damaged journal back into an intact one.
    case damaged
}

/// A `journal_damaged` event: damage heidid found in its journal when it started, and what it did about it.
public struct RecordedDamage: Sendable, Equatable {
    public var seq: UInt64
    public var ts: String
    /// The event's message.
    public var message: String
}

/// Where the lines a verification trusts end, when it found the journal broken: everything from byte `offset` of
/// `file` on, and every file after it, is what is wrong (after a cut, nothing is). `seq` and `hash` are the last
/// trusted line's (0 and 64 zeros when none is).
public struct TrustedEnd: Sendable, Equatable {
    public var file: String
    public var offset: Int64
    public var seq: UInt64
    public var hash: String
}

/// The last checkpoint a verification accepted.
public struct CheckpointSummary: Sendable, Equatable {
    /// The seq of the checkpoint line itself.
    public var seq: UInt64
    public var ts: String
    public var keyID: String
    public var intervalSeconds: UInt64
}

/// The full result of `JournalVerifier.verify`.
public struct VerificationReport: Sendable, Equatable {
    public var outcome: VerificationOutcome
    public var files: [String]
    /// Lines verified, and their bytes.
    public var lines: Int
    public var bytes: Int64 = 0
    public var firstSeq: UInt64?
    public var lastSeq: UInt64?
    public var headHash: String?
    /// Observations that are not failures (e.g. pruned history, checkpoints not checked without a key).
    public var notes: [String]
    public var checkpoints = 0
    public var lastCheckpoint: CheckpointSummary?
    /// With a key: lines after the last checkpoint. Nil when no key was given (nothing about sealing is claimed).
    public var unsealedLines: Int?
    /// The last line is `daemon_stop` (heidid stopped cleanly; its shutdown checkpoint is right before it).
    public var endsWithStop = false
    /// Key ids named by the checkpoints seen.
    public var keyIDs: [String] = []
    /// journald entries compared (nil without `--journald`), and verified lines journald has no entry for.
    public var journaldEntries: Int?
    public var linesNotInJournald = 0
    /// `journal_damaged` events among the lines verified, oldest first.
    public var damage: [RecordedDamage] = []
    /// With a `broken` outcome: where the trusted lines end.
    public var trustedEnd: TrustedEnd?

    public init(outcome: VerificationOutcome, files: [String], lines: Int, notes: [String]) {
        self.outcome = outcome
        self.files = files
        self.lines = lines
        self.notes = notes
    }

    public var verdict: Verdict {
        switch outcome {
        case .broken: return .broken
        case .tornTail: return .tornTail
        case .intact where !damage.isEmpty: return .damaged
        case .intact: return (unsealedLines ?? 0) > 0 ? .intactUnsealedTail : .intact
        }
    }
}

/// A chain head recorded outside the journal (state.json, journald), to detect a cut-off or edited tail.
public struct JournalAnchor: Sendable, Equatable {
    public var seq: UInt64
    public var hash: String
    public var source: String

    public init(seq: UInt64, hash: String, source: String) {
        self.seq = seq
        self.hash = hash
        self.source = source
    }
}

/// What a verification checks besides the files themselves.
public struct VerificationOptions: Sendable {
    /// Heads recorded elsewhere (state.json).
    public var anchors: [JournalAnchor]
    /// journald's copy of every line's head (`--journald`).
    public var journald: JournaldHeads?
    /// Keys whose checkpoints are accepted. Non-empty means fail closed: checkpoints must exist, verify, keep their
    /// cadence, and use one of these key ids.
    public var keys: [JournalKey]
    /// The verifier's clock, to notice a checkpoint that is overdue (the journal was cut after it).
    public var now: Timestamp?
    /// Start at the newest checkpoint that verifies with `keys` instead of at the first line.
    public var sinceCheckpoint: Bool
    /// The files are the whole journal (discovered, not hand-picked): a chain that starts after seq 1 must be
    /// explained by a `journal_pruned` record, otherwise a file was deleted.
    public var complete: Bool

    public init(
        anchors: [JournalAnchor] = [],
        journald: JournaldHeads? = nil,
        keys: [JournalKey] = [],
        now: Timestamp? = nil,
        sinceCheckpoint: Bool = false,
        complete: Bool = false
    ) {
        self.anchors = anchors
        self.journald = journald
        self.keys = keys
        self.now = now
        self.sinceCheckpoint = sinceCheckpoint
        self.complete = complete
    }
}
