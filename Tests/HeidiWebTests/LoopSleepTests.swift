import NIOCore
import NIOPosix
import Testing

@testable import HeidiWeb

/// heidi-web's sleeps are event-loop timers (`LoopSleep`): they must last their time, and a cancelled one must end at
/// once and take its timer off the loop (an SSE client's keep-alive ticker is cancelled when the client leaves).
@Suite("heidi-web LoopSleep")
struct LoopSleepTests {
    @Test("a sleep lasts its time")
    func lasts() async throws {
        let start = ContinuousClock.now
        await LoopSleep.sleep(nanoseconds: 200_000_000, on: MultiThreadedEventLoopGroup.singleton.next())
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(200), "slept \(elapsed)")
        #expect(elapsed < .seconds(30), "slept \(elapsed)")  // generous: a loaded test run delays the resumption
    }

    @Test("cancelling the task ends a 60 s sleep at once, and one in a task already cancelled does not start")
    func cancelled() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let start = ContinuousClock.now
        let sleeper = Task { await LoopSleep.sleep(nanoseconds: 60_000_000_000, on: loop) }
        try await Task.sleep(nanoseconds: 100_000_000)
        sleeper.cancel()
        await sleeper.value
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .seconds(30), "a cancelled 60 s sleep took \(elapsed)")

        let already = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            let before = ContinuousClock.now
            await LoopSleep.sleep(nanoseconds: 60_000_000_000, on: loop)
            return ContinuousClock.now - before
        }
        let took = await already.value
        #expect(took < .seconds(30), "a sleep in a cancelled task took \(took)")
    }
}
