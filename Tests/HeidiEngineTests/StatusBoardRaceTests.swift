import Dispatch
import HeidiCore
import HeidiTestSupport
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
        let result = raceCancellationAgainstPublishing(
            publish: { round in board.publish(Self.snapshot(round: round), live: nil) },
            consume: {
                let documents = board.watch(now: .now())
                return Task { for await _ in documents {} }
            }
        )
        if let stall = result.stall { Issue.record("the status board deadlocked: \(stall)") }
        #expect(result.published > 0)
    }
}
