import HeidiAPI
import HeidiCore
import Synchronization

/// The status as of the engine's last change, readable from any thread without waiting for the engine actor.
///
/// The engine publishes a snapshot whenever something it shows changes (pipeline state, the running stage, the journal
/// head, a storage failure). A status request reads the board and refreshes only what moves on its own (the stage's
/// elapsed time and progress, `updated_at`), so a thousand pollers never queue behind the engine, nor the engine
/// behind them, while a stage floods output. Watchers (`GET /api/v1/status?watch=1`) get every published snapshot
/// that differs from the one they got before, in order, from a bounded queue, and, while a stage runs, the changes of
/// what moves on its own (its `STATUS=` line, counters, usage, progress; not its clock), coalesced to at most
/// `liveUpdatesPerSecond` documents a second, so a watcher never has to poll.
final class StatusBoard: Sendable {
    /// What a status request refreshes itself: the running stage's clock and progress channel.
    struct LiveStage: Sendable {
        var handle: any StageHandle
        var startNanos: UInt64
        /// Progress read from the stage's output (`progress:`).
        var meter: StageProgressMeter?
    }

    /// A publication: immutable, so a read takes it out of the lock with one reference.
    private final class Entry: Sendable {
        let snapshot: StatusSnapshot
        let live: LiveStage?
        /// The snapshot's JSON, but for what `live` refreshes and `updated_at`.
        let template: StatusJSONTemplate

        init(snapshot: StatusSnapshot, live: LiveStage?) {
            self.snapshot = snapshot
            self.live = live
            template = StatusJSONTemplate(snapshot)
        }
    }

    private struct Watcher {
        var continuation: AsyncStream<[UInt8]>.Continuation
        /// The `feedKey` of the last document sent.
        var last: StatusSnapshot
        /// Set by the stream's termination handler, which must not take `watchers` (see `StreamEndFlag`).
        let end: StreamEndFlag
    }

    private struct Watchers {
        var next = 0
        var all: [Int: Watcher] = [:]
        /// True while the live ticker runs (a stage runs and someone watches).
        var ticking = false

        /// Queues `snapshot` for the watchers whose last document shows something else; returns the ones that fell
        /// `watchQueueLimit` behind (removed: finish them outside the lock, which runs their termination handlers).
        mutating func send(_ snapshot: StatusSnapshot) -> [AsyncStream<[UInt8]>.Continuation] {
            if all.values.contains(where: { $0.end.isSet }) { all = all.filter { !$0.value.end.isSet } }
            guard !all.isEmpty else { return [] }
            let key = snapshot.feedKey
            var document: [UInt8]?
            var behind: [AsyncStream<[UInt8]>.Continuation] = []
            for (id, watcher) in all where watcher.last != key {
                all[id]?.last = key
                if document == nil { document = snapshot.jsonBytes() + [0x0a] }
                if case .dropped = watcher.continuation.yield(document ?? []) {
                    behind.append(watcher.continuation)
                    all.removeValue(forKey: id)
                }
            }
            return behind
        }

        /// True when the live ticker should start now (and marks it running): a stage runs, someone watches, and
        /// no ticker runs.
        mutating func startTicker(stageRuns: Bool) -> Bool {
            guard stageRuns, !all.isEmpty, !ticking else { return false }
            ticking = true
            return true
        }
    }

    private let entry: Mutex<Entry?> = Mutex(nil)
    /// Taken before `entry` when both are held. Publications, the ticker's reads and a new watcher's first document
    /// are serialised by it, so every watcher gets its documents in the order the status changed.
    private let watchers = Mutex(Watchers())
    /// Snapshots a watcher may have queued; one that falls further behind is ended (it reconnects).
    static let watchQueueLimit = 1024
    /// At most this many documents a second carry a running stage's own changes: 4 shows a `STATUS=` line within
    /// 250 ms (the page's target is 1 s) while a stage that reports every millisecond costs a watcher 4 documents a
    /// second, not 1,000; the engine's own changes are sent at once, whatever this is.
    static let liveUpdatesPerSecond: UInt64 = 4

    func publish(_ snapshot: StatusSnapshot, live: LiveStage?) {
        let published = Entry(snapshot: snapshot, live: live)
        let (behind, tick) = watchers.withLock { watchers in
            entry.withLock { $0 = published }
            return (watchers.send(snapshot), watchers.startTicker(stageRuns: live != nil))
        }
        finish(behind, startTicker: tick)
    }

    /// Outside the watchers' lock: ends the watchers that fell behind (their termination handlers run) and starts
    /// the live ticker when asked.
    private func finish(_ behind: [AsyncStream<[UInt8]>.Continuation], startTicker: Bool) {
        for continuation in behind { continuation.finish() }
        if startTicker { Task { await self.tickLive() } }
    }

    /// While a stage runs and someone watches: reads the status `liveUpdatesPerSecond` times a second and sends it
    /// when the stage's own fields changed (the clock alone is no change). Ends when the stage or the watchers do;
    /// a publication or a watcher that comes after starts a new one.
    private func tickLive() async {
        while true {
            try? await Task.sleep(nanoseconds: 1_000_000_000 / Self.liveUpdatesPerSecond)
            let (running, behind) = watchers.withLock { watchers -> (Bool, [AsyncStream<[UInt8]>.Continuation]) in
                guard !watchers.all.isEmpty, entry.withLock({ $0?.live != nil }), let snapshot = read(now: .now())
                else {
                    watchers.ticking = false
                    return (false, [])
                }
                return (true, watchers.send(snapshot))
            }
            finish(behind, startTicker: false)
            guard running else { return }
        }
    }

    /// The status now, then every published change and every change of the running stage's own fields (as
    /// `feedKey` tells changes apart), as NDJSON documents, until the daemon stops or the watcher falls
    /// `watchQueueLimit` documents behind.
    func watch(now: Timestamp) -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: [UInt8].self,
            bufferingPolicy: .bufferingOldest(Self.watchQueueLimit)
        )
        var tick = false
        watchers.withLock { watchers in
            // Read under the watchers' lock: a publication either comes before this (and is in the first
            // snapshot) or after (and is queued), never both or neither.
            guard let first = read(now: now) else {
                continuation.finish()
                return
            }
            continuation.yield(first.jsonBytes() + [0x0a])
            watchers.next += 1
            let id = watchers.next
            let end = StreamEndFlag()
            watchers.all[id] = Watcher(continuation: continuation, last: first.feedKey, end: end)
            continuation.onTermination = { _ in end.set() }
            tick = watchers.startTicker(stageRuns: entry.withLock { $0?.live != nil })
        }
        finish([], startTicker: tick)
        return stream
    }

    /// Ends every watcher (shutdown).
    func finishWatchers() {
        let all = watchers.withLock { watchers in
            defer { watchers.all = [:] }
            return watchers.all.values.map(\.continuation)
        }
        for continuation in all { continuation.finish() }
    }

    /// The last published snapshot with its live parts brought up to `now`; nil before the first publication.
    func read(now: Timestamp) -> StatusSnapshot? {
        guard let entry = entry.withLock({ $0 }) else { return nil }
        var snapshot = entry.snapshot
        snapshot.child = Self.refreshed(entry)
        snapshot.updatedAt = now.description
        return snapshot
    }

    /// `read(now:)`'s JSON and a newline, byte for byte (`GET /api/v1/status`): the published template with the
    /// live parts filled in, without copying or encoding the rest of the snapshot.
    func readJSON(now: Timestamp) -> [UInt8]? {
        guard let entry = entry.withLock({ $0 }) else { return nil }
        return entry.template.render(child: Self.refreshed(entry), updatedAt: .timestamp(now), newline: true)
    }

    /// The published child with what moves on its own brought up to now.
    private static func refreshed(_ entry: Entry) -> ChildStatus? {
        guard let live = entry.live, var child = entry.snapshot.child else { return entry.snapshot.child }
        live.refresh(&child)
        return child
    }
}

extension StatusBoard.LiveStage {
    /// Sets the fields of `child` that change while the stage runs.
    func refresh(_ child: inout ChildStatus) {
        child.executor = handle.executorStatus
        let progress = handle.progress
        child.elapsedSeconds = Double(Int(Double(MonotonicClock.nanoseconds() - startNanos) / 1e7)) / 100
        child.status = progress?.status
        child.counters = progress?.counters
        child.usage = progress?.usage
        child.progress = meter?.current
    }
}

extension StatusSnapshot {
    /// What a watcher is sent a new document for: everything but the time stamp and the child's clock (unlike
    /// `watchKey`, the child's `STATUS=` line, counters, usage and progress count).
    var feedKey: StatusSnapshot {
        var key = self
        key.updatedAt = ""
        key.child?.elapsedSeconds = 0
        return key
    }
}
