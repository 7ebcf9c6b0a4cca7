/// Fans a run's prompts out to the teacher with structured concurrency: one task group, at most `concurrency`
/// child tasks at a time (a new one starts when one finishes), no thread per request. Stops issuing when a budget
/// is reached, the provider is unusable, or the calling task is cancelled; requests in flight finish (or, on
/// cancellation, end promptly). Outcomes come back in prompt order whatever the completion order.
public struct Collector: Sendable {
    let settings: CollectSettings
    let provider: any TeacherProvider
    let validator: (any SampleValidator)?
    let ledger: Ledger
    let reporter: FailureReporter

    /// `validator` nil: answers are not validated.
    public init(
        settings: CollectSettings,
        provider: any TeacherProvider,
        validator: (any SampleValidator)?,
        failures: FailureReporter = FailureReporter(sink: nil)
    ) {
        self.settings = settings
        self.provider = provider
        self.validator = validator
        ledger = Ledger(budget: settings.budget, price: settings.price)
        reporter = failures
    }

    /// Current counters and usage (for progress while `run` is going).
    public func snapshot() -> LedgerSnapshot { ledger.snapshot }

    /// Sets `raw_written` once the output is written.
    public func recordWritten(_ lines: Int) { ledger.setWritten(lines) }

    public func run(_ tasks: [PromptTask]) async -> CollectResult {
        let runner = RequestRunner(
            settings: settings,
            provider: provider,
            validator: validator,
            ledger: ledger,
            rateLimiter: RateLimiter(requestsPerSecond: settings.rateLimit),
            reporter: reporter
        )
        let clock = ContinuousClock()
        let start = clock.now
        var outcomes = [ItemOutcome](repeating: .notAttempted, count: tasks.count)
        let window = max(1, settings.concurrency)
        let ledger = self.ledger
        var issued = 0
        await withTaskGroup(of: (Int, ItemOutcome).self) { group in
            while issued < min(window, tasks.count), !Task.isCancelled, ledger.isIssuing {
                let position = issued
                group.addTask { (position, await runner.run(tasks[position])) }
                issued += 1
            }
            while let (position, outcome) = await group.next() {
                outcomes[position] = outcome
                ledger.finish(outcome)
                if issued < tasks.count, !Task.isCancelled, ledger.isIssuing {
                    let next = issued
                    group.addTask { (next, await runner.run(tasks[next])) }
                    issued += 1
                }
            }
        }
        let stopCause = ledger.stopCause
        let interrupted =
            Task.isCancelled
            && outcomes.contains { outcome in
                switch outcome {
                case .failed(.cancelled, _), .notAttempted: return true
                default: return false
                }
            }
        let neverSent = outcomes.reduce(0) { count, outcome in
            if case .notAttempted = outcome { return count + 1 }
            return count
        }
        if !interrupted { ledger.noteSkipped(neverSent, because: stopCause) }
        let elapsed = clock.now - start
        return CollectResult(
            outcomes: outcomes,
            stopCause: stopCause,
            interrupted: interrupted,
            totals: ledger.snapshot,
            elapsed: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        )
    }
}
