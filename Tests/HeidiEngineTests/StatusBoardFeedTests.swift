import HeidiCore
@testable import HeidiEngine
import HeidiSupervisor
import Synchronization
import Testing

/// A running stage whose progress channel the test writes.
final class ProgressHandle: StageHandle {
    private let current = Mutex(StageProgress())
    var pid: Int32 { 4242 }
    var startTicks: UInt64 { 0 }
    func requestStop() {}
    func waitForEnd() async -> StageRunResult { await withCheckedContinuation { (_: CheckedContinuation<StageRunResult, Never>) in } }
    var progress: StageProgress? { current.withLock { $0 } }
    func report(_ status: String) { current.withLock { $0.status = status } }
}

@Suite("Status board change feed")
struct StatusBoardFeedTests {
    /// Waits up to `seconds` for `condition`; true when it held.
    func within(_ seconds: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = MonotonicClock.nanoseconds() + UInt64(seconds * 1e9)
        while MonotonicClock.nanoseconds() < deadline {
            if condition() { return true }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return condition()
    }

    @Test func aRunningStagesStatusLineReachesWatchersWithinASecondCoalescedAndTheClockAloneIsNoChange() async {
        let board = StatusBoard()
        let handle = ProgressHandle()
        var snapshot = StatusBoardRaceTests.snapshot(round: 1)
        snapshot.child = ChildStatus(pid: 4242, pgid: 4242, argv: ["train"], startedAt: "t", elapsedSeconds: 0, timeoutSeconds: 60,
                                     status: nil, startTicks: 0)
        board.publish(snapshot, live: .init(handle: handle, startNanos: MonotonicClock.nanoseconds(), meter: nil))
        let received = Mutex<[String]>([])
        let documents = board.watch(now: .now())
        let reader = Task { for await document in documents { received.withLock { $0.append(String(decoding: document, as: UTF8.self)) } } }
        defer { reader.cancel() }
        #expect(await within(1) { received.withLock { $0.count } == 1 }, "the status now")

        // Nothing but the clock moves: no document.
        try? await Task.sleep(nanoseconds: 1_200_000_000)
        #expect(received.withLock { $0.count } == 1, "the stage's clock alone sent \(received.withLock { $0.count - 1 }) documents")

        // A STATUS= line reaches the watcher with no publication by the engine, within 250 ms by design (2 s here:
        // other suites' threads share the machine).
        handle.report("step 1/10")
        #expect(await within(2) { received.withLock { $0.last?.contains("\"status\":\"step 1/10\"") ?? false } })

        // A stage that reports every 2 ms or so costs at most liveUpdatesPerSecond documents a second, and
        // the last line is shown.
        let before = received.withLock { $0.count }
        let started = MonotonicClock.nanoseconds()
        for step in 1...400 {
            handle.report("flood \(step)")
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
        let seconds = Double(MonotonicClock.nanoseconds() - started) / 1e9
        #expect(await within(2) { received.withLock { $0.last?.contains("\"status\":\"flood 400\"") ?? false } })
        let sent = received.withLock { $0.count } - before
        let bound = Int(seconds * Double(StatusBoard.liveUpdatesPerSecond)) + 2
        #expect(sent >= 2 && sent <= bound, "\(sent) documents for 400 reports in \(seconds) s (at most \(bound))")

        // The engine's own changes still go out at once.
        var next = snapshot
        next.round = 2
        board.publish(next, live: nil)
        #expect(await within(2) { received.withLock { $0.last?.contains("\"round\":2") ?? false } })
    }
}
