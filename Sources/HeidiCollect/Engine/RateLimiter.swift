/// The run's global request rate: a token bucket of one second's worth of requests (at least one), refilled at
/// `requestsPerSecond`. Callers wait for their turn in arrival order (each takes the next free slot; nobody polls).
/// A 429 with Retry-After pauses every caller until then.
actor RateLimiter {
    private let interval: Duration?
    private let tolerance: Duration
    private var theoreticalArrival: ContinuousClock.Instant
    private var pausedUntil: ContinuousClock.Instant?
    private let clock = ContinuousClock()

    /// `requestsPerSecond` nil or ≤ 0: no limit (only Retry-After pauses apply).
    init(requestsPerSecond: Double?) {
        if let rate = requestsPerSecond, rate > 0 {
            let interval = Duration.nanoseconds(Int64(1e9 / rate))
            self.interval = interval
            tolerance = interval * Int(max(1, rate.rounded(.down)) - 1)
        } else {
            interval = nil
            tolerance = .zero
        }
        theoreticalArrival = ContinuousClock().now
    }

    /// Waits until the caller may send a request. Throws `CancellationError` when the task is cancelled meanwhile.
    func acquire() async throws {
        let now = clock.now
        var start = now
        if let interval {
            let arrival = max(theoreticalArrival, now)
            start = max(now, arrival - tolerance)
            theoreticalArrival = arrival + interval
        }
        if let pausedUntil, pausedUntil > start { start = pausedUntil }
        if start > now { try await Task.sleep(until: start, clock: clock) } else { try Task.checkCancellation() }
    }

    /// Holds every request for `seconds` (a server's Retry-After).
    func pause(for seconds: Double) {
        guard seconds > 0 else { return }
        let until = clock.now + .nanoseconds(Int64(seconds * 1e9))
        if pausedUntil.map({ until > $0 }) ?? true { pausedUntil = until }
    }
}
