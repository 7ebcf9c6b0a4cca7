// Shared by the test targets that must make blocking calls (a socket read that waits for a server's timeout).
import Dispatch

/// Blocking work moved off Swift concurrency's cooperative pool. `swift test` runs every suite in one process
/// whose pool has one thread per core (two on the CI machines): a test that blocks one of them for seconds
/// delays the timers, stages and polls of every test running beside it, which then time out.
public enum Blocking {
    /// Runs `work` on a thread of its own (a serial dispatch queue, which gets an overcommitting thread) and
    /// suspends the caller until it returns.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue(label: "heidi.tests.blocking").async { continuation.resume(returning: work()) }
        }
    }
}
