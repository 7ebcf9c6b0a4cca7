import HeidiAPI
import HeidiCore
import Synchronization

/// The status as of the engine's last change, readable from any thread without waiting for the engine actor.
///
/// The engine publishes a snapshot whenever something it shows changes (pipeline state, the running stage, the journal
/// head, a storage failure). A status request reads the board and refreshes only what moves on its own (the stage's
/// elapsed time and progress, `updated_at`), so a thousand pollers never queue behind the engine, nor the engine
/// behind them, while a stage floods output. Watchers (`GET /api/v1/status?watch=1`) get every published snapshot
/// that differs from the one they got before, in order, from a bounded queue.
final class StatusBoard: Sendable {
    /// What a status request refreshes itself: the running stage's clock and progress channel.
    struct LiveStage: Sendable {
        var handle: any StageHandle
        var startNanos: UInt64
        /// Progress read from the stage's output (`progress:`).
        var meter: StageProgressMeter?
    }

    private struct Entry {
        var snapshot: StatusSnapshot
        var live: LiveStage?
    }

    private struct Watcher {
        var continuation: AsyncStream<[UInt8]>.Continuation
        var last: StatusSnapshot
        /// Set by the stream's termination handler, which must not take `watchers` (see `StreamEndFlag`).
        let end: StreamEndFlag
    }

    private struct Watchers {
        var next = 0
        var all: [Int: Watcher] = [:]
    }

    private let entry: Mutex<Entry?> = Mutex(nil)
    private let watchers = Mutex(Watchers())
    /// Snapshots a watcher may have queued; one that falls further behind is ended (it reconnects).
    static let watchQueueLimit = 1024

    func publish(_ snapshot: StatusSnapshot, live: LiveStage?) {
        entry.withLock { $0 = Entry(snapshot: snapshot, live: live) }
        let behind = watchers.withLock { watchers -> [AsyncStream<[UInt8]>.Continuation] in
            if watchers.all.values.contains(where: { $0.end.isSet }) { watchers.all = watchers.all.filter { !$0.value.end.isSet } }
            guard !watchers.all.isEmpty else { return [] }
            let key = snapshot.watchKey
            let document = snapshot.jsonBytes() + [0x0a]
            var behind: [AsyncStream<[UInt8]>.Continuation] = []
            for (id, watcher) in watchers.all where watcher.last != key {
                watchers.all[id]?.last = key
                if case .dropped = watcher.continuation.yield(document) {
                    behind.append(watcher.continuation)
                    watchers.all.removeValue(forKey: id)
                }
            }
            return behind
        }
        // Outside the lock: finishing runs the stream's termination handler, which takes it.
        for continuation in behind { continuation.finish() }
    }

    /// The status now, then every published change (as `watchKey` tells changes apart), as NDJSON documents,
    /// until the daemon stops or the watcher falls `watchQueueLimit` documents behind.
    func watch(now: Timestamp) -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingOldest(Self.watchQueueLimit))
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
            watchers.all[id] = Watcher(continuation: continuation, last: first.watchKey, end: end)
            continuation.onTermination = { _ in end.set() }
        }
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
        if let live = entry.live, var child = snapshot.child {
            live.refresh(&child)
            snapshot.child = child
        }
        snapshot.updatedAt = now.description
        return snapshot
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
