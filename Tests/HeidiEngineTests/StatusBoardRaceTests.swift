import Dispatch
import HeidiCore
import Synchronization
import Testing

@testable import HeidiEngine

#if canImport(Glibc)
import Glibc
#endif

/// Races between the status board's publisher and its watchers, on real threads: a hang here is a deadlock.
@Suite("Status board races")
struct StatusBoardRaceTests {
    static func snapshot(round: Int) -> StatusSnapshot {
        StatusSnapshot(
            version: "0.1.0",
            pid: 42,
            startedAt: "2026-12-07T06:00:00.000000Z",
            state: .collecting,
            mode: .collect,
            runID: "run_1",
            round: round,
            rounds: 1_000_000,
            stage: "generate",
            paused: false,
            pauseRequested: false,
            trainNowPending: false,
            awaitingTrainNow: false,
            stopping: false,
            child: nil,
            lastError: nil,
            journal: JournalHead(path: "/tmp/events.jsonl", seq: UInt64(round), head: SHA256.zeroHex),
            supervision: "subreaper+pgroup",
            updatedAt: "u"
        )
    }

    /// Watchers (`status?watch=1` streams) cancelled while the engine publishes, many times over (commit f754391: a
    /// termination handler that took the watchers' lock, run while the runtime held the cancelled task's lock,
    /// deadlocked with a publication that resumed that task under the watchers' lock; heidid then ignored SIGTERM).
    /// The publisher and the canceller run on their own threads, so a deadlock stops their counts instead of
    /// hanging the test, and the test fails saying so.
    @Test func watchersCancelledWhileTheBoardPublishesNeverDeadlockIt() async {
        let board = StatusBoard()
        board.publish(Self.snapshot(round: 0), live: nil)
        let published = Atomic<Int>(0)
        let cancelled = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        DispatchQueue(label: "publisher").async {
            var round = 0
            while !stop.load(ordering: .relaxed) {
                round += 1
                board.publish(Self.snapshot(round: round), live: nil)
                published.add(1, ordering: .relaxed)
            }
        }
        let rounds = 400
        DispatchQueue(label: "canceller").async {
            for _ in 0..<rounds where !stop.load(ordering: .relaxed) {
                let watchers = (0..<8).map { _ in
                    let documents = board.watch(now: .now())
                    return Task { for await _ in documents {} }
                }
                usleep(200)
                for watcher in watchers { watcher.cancel() }
                cancelled.add(1, ordering: .relaxed)
            }
        }
        defer { stop.store(true, ordering: .relaxed) }
        var last = (published: -1, cancelled: -1)
        var stalledSince = MonotonicClock.nanoseconds()
        while cancelled.load(ordering: .relaxed) < rounds {
            usleep(50_000)
            let now = (published: published.load(ordering: .relaxed), cancelled: cancelled.load(ordering: .relaxed))
            if now != last {
                last = now
                stalledSince = MonotonicClock.nanoseconds()
            } else if MonotonicClock.nanoseconds() - stalledSince > 10_000_000_000 {
                Issue.record(
                    "the status board deadlocked: no publication and no cancellation for 10 s (\(now.published) published, \(now.cancelled) of \(rounds) rounds cancelled)"
                )
                return
            }
        }
        #expect(last.published > 0)
    }
}
