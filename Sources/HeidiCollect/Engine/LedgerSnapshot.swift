/// Counters and usage of a run, as the progress channel, the summary and the budget see them.
public struct LedgerSnapshot: Sendable, Equatable {
    /// `teacher_generated`, `teacher_failed`, `failed_<code>`, `validated_ok`, `rejected_<reason>`,
    /// `skipped_budget`, `cancelled` (in flight when the run was interrupted), `raw_written` (set when the output is
    /// written).
    public var counters: [String: Int] = [:]
    public var requestsSent = 0
    public var inputTokens = 0
    public var outputTokens = 0
    public var rateLimitsHit = 0
    public var retries = 0
    /// Estimated cost in micro-dollars (fractional; reported rounded down).
    public var costMicros = 0.0
    /// Prompts finished (answered, failed or given up).
    public var done = 0

    public func counter(_ name: String) -> Int { counters[name] ?? 0 }
    public var generated: Int { counter("teacher_generated") }
    public var failed: Int { counter("teacher_failed") }
    public var rejected: Int { counters.filter { $0.key.hasPrefix("rejected_") }.reduce(0) { $0 + $1.value } }
    public var cancelled: Int { counter("cancelled") }

    /// The usage object of the progress channel: integers only, cost in micro-dollars.
    public var usage: [String: Int] {
        [
            "requests_sent": requestsSent, "input_tokens": inputTokens, "output_tokens": outputTokens,
            "rate_limits_hit": rateLimitsHit, "retries": retries,
            "estimated_cost_usd_micros": Int(costMicros.rounded(.down)),
        ]
    }
}
