import HeidiCore

/// Whether the cluster keeps accounting (`sacct` is then the final word on a job), asked once a minute at most.
public actor SlurmAccounting {
    private var known: (enabled: Bool, at: UInt64)?

    public init() {}

    func enabled(_ client: SlurmClient) async -> Bool {
        let now = MonotonicClock.nanoseconds()
        if let known, now - known.at < 60_000_000_000 { return known.enabled }
        // Unknown (controller unreachable): no accounting, so scontrol answers, and ask again next time.
        guard let enabled = try? await client.accountingEnabled() else { return known?.enabled ?? false }
        known = (enabled, now)
        return enabled
    }
}
