import HeidiCore
import Synchronization

/// The status as of the engine's last change, readable from any thread without waiting for the engine actor.
///
/// The engine publishes a snapshot whenever something it shows changes (pipeline state, the running stage, the journal
/// head, a storage failure). A status request reads the board and refreshes only what moves on its own (the stage's
/// elapsed time and progress, `updated_at`), so a thousand pollers never queue behind the engine, nor the engine
/// behind them, while a stage floods output.
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

    private let entry: Mutex<Entry?> = Mutex(nil)

    func publish(_ snapshot: StatusSnapshot, live: LiveStage?) {
        entry.withLock { $0 = Entry(snapshot: snapshot, live: live) }
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
        let progress = handle.progress
        child.elapsedSeconds = Double(Int(Double(MonotonicClock.nanoseconds() - startNanos) / 1e7)) / 100
        child.status = progress?.status
        child.counters = progress?.counters
        child.usage = progress?.usage
        child.progress = meter?.current
    }
}
