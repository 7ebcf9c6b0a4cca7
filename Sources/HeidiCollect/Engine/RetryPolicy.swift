/// How failed attempts are retried: exponential backoff with jitter, honouring the server's Retry-After.
public struct RetryPolicy: Sendable, Equatable {
    /// Extra attempts after the first (0: never retry).
    public var retries: Int
    /// Delay before the first retry, doubled for each further one.
    public var baseDelay: Double
    /// Longest computed delay.
    public var maxDelay: Double
    /// Longest Retry-After that is honoured as given; longer requests are cut to this.
    public var maxRetryAfter: Double

    public init(retries: Int = 3, baseDelay: Double = 0.5, maxDelay: Double = 30, maxRetryAfter: Double = 120) {
        self.retries = retries
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    /// Seconds to wait before attempt `attempt` (2 for the first retry): `baseDelay × 2^(attempt-2)` capped at
    /// `maxDelay`, of which the upper half is random (never less than half the nominal delay, so retries of many
    /// requests spread out); at least the server's Retry-After.
    public func delay(beforeAttempt attempt: Int, retryAfter: Double?, random: inout SeededRandom) -> Double {
        let exponent = min(max(attempt - 2, 0), 30)
        let nominal = min(maxDelay, baseDelay * Double(1 << exponent))
        let jittered = nominal * (0.5 + 0.5 * random.unit())
        guard let retryAfter else { return jittered }
        return max(jittered, min(retryAfter, maxRetryAfter))
    }
}
