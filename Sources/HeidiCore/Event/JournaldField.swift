/// The journald fields of heidid's entries: one set for the writer (the engine's `JournaldMirror`) and the reader
/// (`JournaldHeads`, behind `heidictl journal verify --journald`), so the two cannot drift apart.
public enum JournaldField {
    /// `SYSLOG_IDENTIFIER` of the daemon's own entries (children's output uses `heidi-<stage>`).
    public static let daemonIdentifier = "heidid"
    public static let eventType = "HEIDI_EVENT_TYPE"
    /// The event's journal `seq`, and `hash` the SHA-256 of its line: the chain heads journald keeps a copy of.
    public static let seq = "HEIDI_SEQ"
    public static let hash = "HEIDI_HASH"
    public static let runID = "HEIDI_RUN_ID"
    public static let round = "HEIDI_ROUND"
    public static let stage = "HEIDI_STAGE"
    public static let childPID = "HEIDI_CHILD_PID"
    /// Trusted fields journald adds itself: the sender's uid, and the receive time (µs since the epoch).
    public static let uid = "_UID"
    public static let realtime = "__REALTIME_TIMESTAMP"
}
