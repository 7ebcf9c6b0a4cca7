import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// Waits (up to `seconds`, blocking the calling thread) until `condition` holds; only for cleanup code that
/// cannot await.
public func eventually(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = MonotonicClock.nanoseconds() + UInt64(seconds * 1e9)
    while MonotonicClock.nanoseconds() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
