import Synchronization

/// The schedule of a token bucket holding one second's worth of requests (at least one), refilled at
/// `requestsPerSecond`: each request takes the next free slot (GCRA: a theoretical arrival time advanced by one
/// interval per request, with a burst tolerance). Pure, so its arithmetic is testable without waiting.
struct TokenBucket: Sendable {
    private let interval: Duration
    private let tolerance: Duration
    private var theoreticalArrival: ContinuousClock.Instant?

    init(requestsPerSecond rate: Double) {
        interval = .nanoseconds(Int64(1e9 / rate))
        tolerance = interval * Int(max(1, rate.rounded(.down)) - 1)
    }

    /// When a request arriving at `now` may start (never before `now`); books that slot.
    mutating func reserve(at now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let arrival = max(theoreticalArrival ?? now, now)
        theoreticalArrival = arrival + interval
        return max(now, arrival - tolerance)
    }
}

/// The run's global request rate (`--rate-limit`, a `TokenBucket`; none by default). Callers take the next slot
/// under a lock (no actor hop on the hot path: a run may start a thousand requests at once) and sleep until it
/// comes, nobody polls. A 429 with Retry-After pauses every caller until then.
final class RateLimiter: Sendable {
    private struct State {
        var bucket: TokenBucket?
        var pausedUntil: ContinuousClock.Instant?
    }

    private let state: Mutex<State>

    /// `requestsPerSecond` nil or ≤ 0: no limit (only Retry-After pauses apply).
    init(requestsPerSecond: Double?) {
        state = Mutex(State(bucket: requestsPerSecond.flatMap { $0 > 0 ? TokenBucket(requestsPerSecond: $0) : nil }))
    }

    /// Waits until the caller may send a request. Throws `CancellationError` when the task is cancelled meanwhile.
    func acquire() async throws {
        let now = ContinuousClock.now
        let start = state.withLock { state -> ContinuousClock.Instant in
            var start = state.bucket?.reserve(at: now) ?? now
            if let paused = state.pausedUntil, paused > start { start = paused }
            return start
        }
        if start > now { try await Task.sleep(until: start, clock: .continuous) } else { try Task.checkCancellation() }
    }

    /// Holds every request for `seconds` (a server's Retry-After).
    func pause(for seconds: Double) {
        guard seconds > 0 else { return }
        let until = ContinuousClock.now + .nanoseconds(Int64(seconds * 1e9))
        state.withLock { state in
            if state.pausedUntil.map({ until > $0 }) ?? true { state.pausedUntil = until }
        }
    }
}
