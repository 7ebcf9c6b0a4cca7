/// Counters and usage of a run, as the progress channel, the summary and the budget see them.
public struct LedgerSnapshot: Sendable, Equatable {
    /// `teacher_generated`, `teacher_failed`, `failed_<code>`, `validated_ok`, `rejected_<reason>`,
    /// `skipped_budget`, `raw_written` (set when the output is written).
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

    /// The usage object of the progress channel: integers only, cost in micro-dollars.
    public var usage: [String: Int] {
        ["requests_sent": requestsSent, "input_tokens": inputTokens, "output_tokens": outputTokens,
         "rate_limits_hit": rateLimitsHit, "retries": retries, "estimated_cost_usd_micros": Int(costMicros.rounded(.down))]
    }
}

/// The run's shared accounting: counters, usage, and the budget reservations that decide whether another request
/// may be sent. An actor: every request task reports here.
actor Ledger {
    private let budget: Budget
    private let price: Price
    private var snapshotValue = LedgerSnapshot()
    private var reservedTokens = 0
    private var reservedCostMicros = 0.0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private(set) var stopCause: StopCause?

    /// Distinct `failed_*`/`rejected_*` names kept before the rest are counted as `<prefix>other` (the progress
    /// channel accepts a bounded number of names).
    static let maxReasonNames = 40
    private var reasonNames = 0

    init(budget: Budget, price: Price) {
        self.budget = budget
        self.price = price
    }

    var snapshot: LedgerSnapshot { snapshotValue }
    var isIssuing: Bool { stopCause == nil }

    /// Sets aside `estimate` for one attempt and counts it as sent; nil when the budget (or a stop) forbids it.
    /// When the attempt would fit only after requests in flight settle, waits for them.
    func reserve(_ estimate: RequestEstimate) async -> Reservation? {
        while true {
            guard stopCause == nil else { return nil }
            if let max = budget.maxRequests, snapshotValue.requestsSent >= max {
                stop(.budgetExhausted(.requests, "\(max) requests sent (--max-requests \(max))"))
                return nil
            }
            let usedTokens = snapshotValue.inputTokens + snapshotValue.outputTokens
            let cost = price.costMicros(inputTokens: estimate.inputTokens, outputTokens: estimate.outputTokens)
            var mustWait = false
            if let max = budget.maxTokens {
                if usedTokens + estimate.tokens > max {
                    stop(.budgetExhausted(.tokens, "\(usedTokens) of \(max) tokens used; the next request may need up to \(estimate.tokens) (--max-tokens \(max))"))
                    return nil
                }
                if usedTokens + reservedTokens + estimate.tokens > max { mustWait = true }
            }
            if let max = budget.maxCostMicros {
                if snapshotValue.costMicros + cost > max {
                    stop(.budgetExhausted(.cost, "\(Self.dollars(snapshotValue.costMicros)) of \(Self.dollars(max)) spent; the next request may cost up to \(Self.dollars(cost)) (--max-cost \(budget.maxCostUSD ?? 0))"))
                    return nil
                }
                if snapshotValue.costMicros + reservedCostMicros + cost > max { mustWait = true }
            }
            if mustWait {
                await withCheckedContinuation { waiters.append($0) }
                continue
            }
            reservedTokens += estimate.tokens
            reservedCostMicros += cost
            snapshotValue.requestsSent += 1
            return Reservation(tokens: estimate.tokens, costMicros: cost)
        }
    }

    /// Releases a reservation and books what the attempt really used (nothing when it failed without an answer).
    func settle(_ reservation: Reservation, usage: TokenUsage?) {
        reservedTokens -= reservation.tokens
        reservedCostMicros -= reservation.costMicros
        if let usage {
            snapshotValue.inputTokens += usage.inputTokens
            snapshotValue.outputTokens += usage.outputTokens
            snapshotValue.costMicros += price.costMicros(inputTokens: usage.inputTokens, outputTokens: usage.outputTokens)
        }
        wakeWaiters()
    }

    func noteRateLimited() { snapshotValue.rateLimitsHit += 1 }
    func noteRetry() { snapshotValue.retries += 1 }

    /// Stops issuing requests (the first cause wins).
    func stop(_ cause: StopCause) {
        if stopCause == nil { stopCause = cause }
        wakeWaiters()
    }

    /// Counts a finished prompt.
    func finish(_ outcome: ItemOutcome) {
        switch outcome {
        case .generated(let sample):
            snapshotValue.done += 1
            count("teacher_generated")
            if let verdict = sample.verdict {
                if verdict.passed {
                    count("validated_ok")
                } else {
                    count(reasonName("rejected_", verdict.rejectionReason ?? "rejected"))
                }
            }
        case .failed(.cancelled, _):
            break
        case .failed(let error, _):
            snapshotValue.done += 1
            count("teacher_failed")
            count(reasonName("failed_", error.code))
        case .notAttempted:
            break
        }
    }

    /// Counts prompts that were never sent because the run stopped issuing requests.
    func noteSkipped(_ count: Int, because cause: StopCause?) {
        guard count > 0 else { return }
        switch cause {
        case .budgetExhausted: self.count("skipped_budget", by: count)
        case .providerUnusable: self.count("skipped_provider_unusable", by: count)
        case nil: break
        }
    }

    func setWritten(_ lines: Int) { snapshotValue.counters["raw_written"] = lines }

    private func count(_ name: String, by amount: Int = 1) { snapshotValue.counters[name, default: 0] += amount }

    /// `prefix + reason`, made a valid counter name; beyond `maxReasonNames` distinct names, `prefix + "other"`.
    private func reasonName(_ prefix: String, _ reason: String) -> String {
        let cleaned = String(reason.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" }.prefix(48))
        let name = prefix + (cleaned.isEmpty ? "other" : cleaned)
        if snapshotValue.counters[name] != nil { return name }
        guard reasonNames < Self.maxReasonNames else { return prefix + "other" }
        reasonNames += 1
        return name
    }

    private func wakeWaiters() {
        let woken = waiters
        waiters.removeAll()
        for waiter in woken { waiter.resume() }
    }

    /// `$1.2345`: dollars with four decimals.
    static func dollars(_ micros: Double) -> String {
        let units = Int64((micros / 100).rounded())  // 1/10,000 of a dollar
        let fraction = String(units % 10_000)
        return "$\(units / 10_000)." + String(repeating: "0", count: 4 - fraction.count) + fraction
    }
}
