import Synchronization

/// The run's shared accounting: counters, usage, and the budget reservations that decide whether another request
/// may be sent. Every request task reports here, so its state sits behind a lock rather than in an actor: a run may
/// start a thousand requests at once, and each report is a few additions. Waiting for room in the budget is the
/// one suspending operation (a continuation resumed when a request in flight settles).
final class Ledger: Sendable {
    private struct State {
        var snapshot = LedgerSnapshot()
        var reservedTokens = 0
        var reservedCostMicros = 0.0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var stopCause: StopCause?
        var reasonNames = 0
    }

    /// What `reserve` decided under the lock.
    private enum Decision {
        case reserved(Reservation)
        case refused
        case wait
    }

    private let budget: Budget
    private let price: Price
    private let state = Mutex(State())

    /// Distinct `failed_*`/`rejected_*` names kept before the rest are counted as `<prefix>other` (the progress
    /// channel accepts a bounded number of names).
    static let maxReasonNames = 40

    init(budget: Budget, price: Price) {
        self.budget = budget
        self.price = price
    }

    var snapshot: LedgerSnapshot { state.withLock { $0.snapshot } }
    var isIssuing: Bool { state.withLock { $0.stopCause == nil } }
    var stopCause: StopCause? { state.withLock { $0.stopCause } }

    /// Sets aside `estimate` for one attempt and counts it as sent; nil when the budget (or a stop) forbids it.
    /// When the attempt would fit only after requests in flight settle, waits for them.
    func reserve(_ estimate: RequestEstimate) async -> Reservation? {
        while true {
            switch state.withLock({ decide(estimate, &$0) }) {
            case .reserved(let reservation): return reservation
            case .refused: return nil
            case .wait:
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    // Decide again under the lock, so a settle between the first decision and now is not missed.
                    let resumeNow = state.withLock { state -> Bool in
                        if case .wait = decide(estimate, &state, dryRun: true) {
                            state.waiters.append(continuation)
                            return false
                        }
                        return true
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    private func decide(_ estimate: RequestEstimate, _ state: inout State, dryRun: Bool = false) -> Decision {
        guard state.stopCause == nil else { return .refused }
        let snapshot = state.snapshot
        if let max = budget.maxRequests, snapshot.requestsSent >= max {
            if !dryRun { stop(.budgetExhausted(.requests, "\(max) requests sent (--max-requests \(max))"), &state) }
            return .refused
        }
        let usedTokens = snapshot.inputTokens + snapshot.outputTokens
        let cost = price.costMicros(inputTokens: estimate.inputTokens, outputTokens: estimate.outputTokens)
        var mustWait = false
        if let max = budget.maxTokens {
            if usedTokens + estimate.tokens > max {
                if !dryRun {
                    stop(
                        .budgetExhausted(
                            .tokens,
                            "\(usedTokens) of \(max) tokens used; the next request may need up to \(estimate.tokens) (--max-tokens \(max))"
                        ),
                        &state
                    )
                }
                return .refused
            }
            if usedTokens + state.reservedTokens + estimate.tokens > max { mustWait = true }
        }
        if let max = budget.maxCostMicros {
            if snapshot.costMicros + cost > max {
                if !dryRun {
                    stop(
                        .budgetExhausted(
                            .cost,
                            "\(Self.dollars(snapshot.costMicros)) of \(Self.dollars(max)) spent; the next request may cost up to \(Self.dollars(cost)) (--max-cost \(budget.maxCostUSD ?? 0))"
                        ),
                        &state
                    )
                }
                return .refused
            }
            if snapshot.costMicros + state.reservedCostMicros + cost > max { mustWait = true }
        }
        if mustWait || dryRun { return mustWait ? .wait : .refused }
        state.reservedTokens += estimate.tokens
        state.reservedCostMicros += cost
        state.snapshot.requestsSent += 1
        return .reserved(Reservation(tokens: estimate.tokens, costMicros: cost))
    }

    /// Releases a reservation and books what the attempt really used (nothing when it failed without an answer).
    func settle(_ reservation: Reservation, usage: TokenUsage?) {
        let woken = state.withLock { state in
            state.reservedTokens -= reservation.tokens
            state.reservedCostMicros -= reservation.costMicros
            if let usage {
                state.snapshot.inputTokens += usage.inputTokens
                state.snapshot.outputTokens += usage.outputTokens
                state.snapshot.costMicros += price.costMicros(
                    inputTokens: usage.inputTokens,
                    outputTokens: usage.outputTokens
                )
            }
            return Self.takeWaiters(&state)
        }
        for waiter in woken { waiter.resume() }
    }

    func noteRateLimited() { state.withLock { $0.snapshot.rateLimitsHit += 1 } }
    func noteRetry() { state.withLock { $0.snapshot.retries += 1 } }

    /// Stops issuing requests (the first cause wins).
    func stop(_ cause: StopCause) {
        let woken = state.withLock { state in
            stop(cause, &state)
            return Self.takeWaiters(&state)
        }
        for waiter in woken { waiter.resume() }
    }

    private func stop(_ cause: StopCause, _ state: inout State) {
        if state.stopCause == nil { state.stopCause = cause }
    }

    /// Counts a finished prompt.
    func finish(_ outcome: ItemOutcome) {
        state.withLock { state in
            switch outcome {
            case .generated(let sample):
                state.snapshot.done += 1
                Self.count("teacher_generated", &state)
                if let verdict = sample.verdict {
                    if verdict.passed {
                        Self.count("validated_ok", &state)
                    } else {
                        Self.count(Self.reasonName("rejected_", verdict.rejectionReason ?? "rejected", &state), &state)
                    }
                }
            case .failed(.cancelled, _):
                // In flight (a request, a backoff or a validation) when the run was interrupted.
                Self.count("cancelled", &state)
            case .failed(let error, _):
                state.snapshot.done += 1
                Self.count("teacher_failed", &state)
                Self.count(Self.reasonName("failed_", error.code, &state), &state)
            case .notAttempted:
                break
            }
        }
    }

    /// Counts prompts that were never sent because the run stopped issuing requests.
    func noteSkipped(_ count: Int, because cause: StopCause?) {
        guard count > 0 else { return }
        state.withLock { state in
            switch cause {
            case .budgetExhausted: Self.count("skipped_budget", &state, by: count)
            case .providerUnusable: Self.count("skipped_provider_unusable", &state, by: count)
            case nil: break
            }
        }
    }

    func setWritten(_ lines: Int) { state.withLock { $0.snapshot.counters["raw_written"] = lines } }

    private static func takeWaiters(_ state: inout State) -> [CheckedContinuation<Void, Never>] {
        let woken = state.waiters
        state.waiters.removeAll()
        return woken
    }

    private static func count(_ name: String, _ state: inout State, by amount: Int = 1) {
        state.snapshot.counters[name, default: 0] += amount
    }

    /// `prefix + reason`, made a valid counter name; beyond `maxReasonNames` distinct names, `prefix + "other"`.
    private static func reasonName(_ prefix: String, _ reason: String, _ state: inout State) -> String {
        let cleaned = String(
            reason.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" }.prefix(48)
        )
        let name = prefix + (cleaned.isEmpty ? "other" : cleaned)
        if state.snapshot.counters[name] != nil { return name }
        guard state.reasonNames < maxReasonNames else { return prefix + "other" }
        state.reasonNames += 1
        return name
    }

    /// `$1.2345`: dollars with four decimals.
    static func dollars(_ micros: Double) -> String {
        let units = Int64((micros / 100).rounded())  // 1/10,000 of a dollar
        let fraction = String(units % 10_000)
        return "$\(units / 10_000)." + String(repeating: "0", count: 4 - fraction.count) + fraction
    }
}
