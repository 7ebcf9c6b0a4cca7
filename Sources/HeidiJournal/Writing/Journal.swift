import HeidiCore

/// The daemon's journal: the writer and what is kept around it — the checkpoint key and the last checkpoint,
/// group commit (lines written but not yet durable), a write failure and the events it lost, live followers, the
/// rotations retention has seen, and the damage on record. One owner (the engine actor) calls it; the timers
/// and what the owner tells others (journald, status, the log) stay with the owner.
public final class Journal {
    public let writer: JournalWriter
    /// Seconds between checkpoints (`journal.checkpoint_interval`, at least 1).
    public let checkpointInterval: UInt64
    public private(set) var key: JournalKey?
    public private(set) var lastCheckpoint: Timestamp?
    /// Writes are failing: set by `writeFailed`, cleared by `recover` (which records it).
    public private(set) var failure: JournalFailure?
    /// The latest damage the journal records (found at this start, or by an earlier one), for status.
    public var damage: String?
    /// `batch`: lines written but not yet fdatasync'ed. journald gets them from `sync()`, so journald never holds
    /// a line that a crash could take from the file.
    private var unsynced: [WrittenEvent] = []
    private var followers: [LiveLineBuffer] = []
    private var rotationsSeen = 0

    public init(writer: JournalWriter, checkpointInterval seconds: Double) {
        self.writer = writer
        checkpointInterval = UInt64(max(1, seconds.rounded(.up)))
    }

    public var path: String { writer.path }
    public var lastSeq: UInt64 { writer.lastSeq }
    public var headHash: String { writer.headHash }
    public var policy: FsyncPolicy { writer.policy }
    public var lastSyncSeconds: Double { writer.lastSyncSeconds }
    private var intervalMicros: Int64 { Int64(checkpointInterval) * 1_000_000 }

    /// Signs checkpoints with `key` from now on.
    public func useKey(_ key: JournalKey) { self.key = key }

    // MARK: Appending

    /// Appends `draft`. A failing journal must `recover` first, and `appendDueCheckpoint` comes before, so no line
    /// is ever more than one interval past the last checkpoint.
    public func append(_ draft: EventDraft, at time: Timestamp) throws(JournalError) -> WrittenEvent {
        wrote(try writer.append(draft, at: time))
    }

    /// Appends a checkpoint when one is due at `time` (an interval after the last); nil when none is (or no key).
    public func appendDueCheckpoint(at time: Timestamp) throws(JournalError) -> WrittenEvent? {
        guard let last = lastCheckpoint, time.microseconds - last.microseconds >= intervalMicros else { return nil }
        return try appendCheckpoint(at: time)
    }

    /// Appends a checkpoint sealing every line so far; nil without a key.
    public func appendCheckpoint(at time: Timestamp) throws(JournalError) -> WrittenEvent? {
        guard let key else { return nil }
        return wrote(try writer.appendCheckpoint(key: key, interval: checkpointInterval, at: time))
    }

    private func wrote(_ written: WrittenEvent) -> WrittenEvent {
        if policy == .batch { unsynced.append(written) }
        followers.removeAll { !$0.push(written.line) }
        if written.draft.type == .checkpoint { lastCheckpoint = written.timestamp }
        return written
    }

    /// One fdatasync for every line appended since the last; returns the lines that became durable (for
    /// journald). A failed sync loses nothing yet: the lines wait for a sync that works.
    public func sync() throws(JournalError) -> [WrittenEvent] {
        try writer.sync()
        defer { unsynced = [] }
        return unsynced
    }

    /// The file rotated since the last call: retention should prune.
    public func takeRotation() -> Bool {
        guard writer.rotations != rotationsSeen else { return false }
        rotationsSeen = writer.rotations
        return true
    }

    // MARK: Failure and recovery

    /// A write failed with `error` (`lost`: the event that could not be recorded; nil for a sync). True when this
    /// starts a failure (writes worked until now).
    @discardableResult
    public func writeFailed(_ error: String, lost type: EventType?, at time: Timestamp) -> Bool {
        let started = failure == nil
        if started { failure = JournalFailure(since: time, error: error) }
        failure?.error = error
        if let type { failure?.lost(type) }
        return started
    }

    /// Writes the `journal_recovered` record (how long writes failed, what was lost) and ends the failure;
    /// returns the failure and the line. Nil when writes are not failing.
    public func recover(
        at time: Timestamp,
        runID: String?,
        round: Int
    ) throws(JournalError) -> (failure: JournalFailure, written: WrittenEvent)? {
        guard let failure else { return nil }
        let draft = EventDraft(
            .journalRecovered,
            level: .warn,
            message: failure.recoveryMessage(at: time),
            runID: runID,
            round: round,
            countersDelta: ["lost_events": Double(failure.lostCount)]
        )
        let written = wrote(try writer.append(draft, at: time))
        self.failure = nil
        return (failure, written)
    }

    // MARK: Checkpoint timing

    /// Seconds until the next checkpoint is due (1 before the first); a clock set back never delays it further.
    public func secondsUntilCheckpoint(now: Timestamp) -> Double {
        guard let last = lastCheckpoint else { return 1 }
        let remaining = intervalMicros - (now.microseconds - last.microseconds)
        return Double(min(remaining, intervalMicros)) / 1e6
    }

    /// A checkpoint is due at `now` (within 10 ms, so a timer that wakes a little early still writes it).
    public func checkpointDue(now: Timestamp) -> Bool {
        guard let last = lastCheckpoint else { return true }
        return now.microseconds - last.microseconds >= intervalMicros - 10_000
    }

    // MARK: Followers

    /// Live lines for a feed that has read the files up to `seq`: `.behind` when lines were written since.
    public func subscribe(after seq: UInt64) -> JournalFeed.Subscription {
        guard lastSeq <= seq else { return .behind }
        let buffer = LiveLineBuffer()
        followers.append(buffer)
        return .live(buffer)
    }

    /// Ends the followers' streams and closes the file (call `sync()` first under `batch`).
    public func close() {
        for follower in followers { follower.finish() }
        followers = []
        writer.close()
    }
}
