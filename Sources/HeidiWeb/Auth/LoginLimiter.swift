import NIOConcurrencyHelpers

/// Failed logins per client address: after `maxFailures` within `window` seconds, the address gets 429 with
/// `Retry-After` until the window has passed. Bounded memory: at most `maxAddresses` addresses are tracked (the
/// stalest are forgotten first).
public final class LoginLimiter: Sendable {
    public let maxFailures: Int
    public let window: Double
    public let maxAddresses: Int
    private let clock: @Sendable () -> Double
    private let failures = NIOLockedValueBox<[String: [Double]]>([:])

    public init(
        maxFailures: Int = 5,
        window: Double = 60,
        maxAddresses: Int = 4096,
        clock: @escaping @Sendable () -> Double
    ) {
        self.maxFailures = maxFailures
        self.window = window
        self.maxAddresses = maxAddresses
        self.clock = clock
    }

    /// Seconds the address must wait before it may try again; nil when it may try now.
    public func retryAfter(_ address: String) -> Int? {
        let now = clock()
        return failures.withLockedValue { table in
            guard let times = table[address]?.filter({ now - $0 < window }), times.count >= maxFailures,
                let oldest = times.first
            else {
                return nil
            }
            return max(1, Int((oldest + window - now).rounded(.up)))
        }
    }

    public func recordFailure(_ address: String) {
        let now = clock()
        failures.withLockedValue { table in
            var times = (table[address] ?? []).filter { now - $0 < window }
            times.append(now)
            table[address] = Array(times.suffix(maxFailures))
            if table.count > maxAddresses {
                table = table.filter { $0.value.contains { now - $0 < window } }
                while table.count > maxAddresses,
                    let stalest = table.min(by: { ($0.value.last ?? 0) < ($1.value.last ?? 0) })
                {
                    table[stalest.key] = nil
                }
            }
        }
    }

    public func recordSuccess(_ address: String) {
        failures.withLockedValue { table in table[address] = nil }
    }
}
