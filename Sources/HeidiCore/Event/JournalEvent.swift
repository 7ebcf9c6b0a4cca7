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
        _ type: EventType, level: EventLevel = .info, message: String, runID: String? = nil, round: Int = 0,
        stage: String? = nil, countersDelta: [String: Double] = [:], usageDelta: [String: Double] = [:],
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

/// Encodes journal lines in the v2 format: compact JSON, fixed key order, at most 64 KiB.
public enum JournalLineEncoder {
    /// The keys of a v2 line, in their required order.
    public static let keys = [
        "event_version", "seq", "ts", "run_id", "round", "stage", "level", "event_type", "message",
        "counters_delta", "usage_delta", "artifact_paths", "prev_hash",
    ]
    public static let maxLineBytes = 64 * 1024
    static let truncationMark = " …[truncated]"

    /// The line bytes (with `\n`) for `draft`; the message is redacted and, if the line would exceed 64 KiB, cut.
    public static func encode(_ draft: EventDraft, seq: UInt64, timestamp: Timestamp, prevHash: String) -> [UInt8] {
        var message = Redactor.redact(draft.message)
        var line = encode(draft, message: message, seq: seq, timestamp: timestamp, prevHash: prevHash)
        if line.count > maxLineBytes {
            // Escaping can expand a byte up to 6x: cut generously, then back off to a character boundary.
            let bytes = Array(message.utf8)
            var keep = max(0, bytes.count - (line.count - maxLineBytes) * 6 - truncationMark.utf8.count)
            while keep > 0, keep < bytes.count, bytes[keep] & 0xC0 == 0x80 { keep -= 1 }
            message = String(decoding: bytes[0..<keep], as: UTF8.self) + truncationMark
            line = encode(draft, message: message, seq: seq, timestamp: timestamp, prevHash: prevHash)
        }
        return line
    }

    private static func encode(
        _ draft: EventDraft, message: String, seq: UInt64, timestamp: Timestamp, prevHash: String
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + message.utf8.count)
        func key(_ name: String, first: Bool = false) {
            if !first { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        out.append(UInt8(ascii: "{"))
        key("event_version", first: true); JSONText.appendString("2", to: &out)
        key("seq"); out.append(contentsOf: String(seq).utf8)
        key("ts"); JSONText.appendTimestamp(timestamp.microseconds, to: &out)
        key("run_id")
        if let runID = draft.runID { JSONText.appendString(runID, to: &out) } else { out.append(contentsOf: "null".utf8) }
        key("round"); out.append(contentsOf: String(max(0, draft.round)).utf8)
        key("stage")
        if let stage = draft.stage { JSONText.appendString(stage, to: &out) } else { out.append(contentsOf: "null".utf8) }
        key("level"); JSONText.appendString(draft.level.rawValue, to: &out)
        key("event_type"); JSONText.appendString(draft.type.rawValue, to: &out)
        key("message"); JSONText.appendString(message, to: &out)
        key("counters_delta"); JSONText.appendNumberMap(draft.countersDelta, to: &out)
        key("usage_delta"); JSONText.appendNumberMap(draft.usageDelta, to: &out)
        key("artifact_paths"); JSONText.appendStringArray(draft.artifactPaths.map(Redactor.redact), to: &out)
        key("prev_hash"); JSONText.appendString(prevHash, to: &out)
        out.append(UInt8(ascii: "}"))
        out.append(0x0a)
        return out
    }
}

extension JournalLineEncoder {
    /// The fixed start of every v2 line, up to the seq digits.
    static let seqPrefix = Array(#"{"event_version":"2","seq":"#.utf8)

    /// The `seq` of a journal line, read from its fixed prefix without parsing the rest; nil if it has none.
    public static func seq<Line: Collection<UInt8>>(of line: Line) -> UInt64? {
        guard line.count > seqPrefix.count, line.prefix(seqPrefix.count).elementsEqual(seqPrefix) else { return nil }
        var value: UInt64 = 0
        var digits = 0
        for byte in line.dropFirst(seqPrefix.count) {
            guard (48...57).contains(byte), digits < 19 else { break }
            value = value * 10 + UInt64(byte - 48)
            digits += 1
        }
        return digits > 0 ? value : nil
    }
}
