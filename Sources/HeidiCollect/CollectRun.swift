/// Everything one `heidi-collect` run needs, already resolved from flags and files.
public struct CollectJob: Sendable {
    public var tasks: [PromptTask]
    public var settings: CollectSettings
    public var provider: any TeacherProvider
    /// nil: answers are not validated (`--no-validate`).
    public var validator: (any SampleValidator)?
    public var output: AtomicOutputFile
    public var round: Int
    /// Also write answers that failed validation (with `validation.passed: false`).
    public var keepRejected: Bool
    /// Exit 0 instead of 3 when a budget stops the run (for pipelines where the budget is the intended per-round limit).
    public var budgetExhaustedOK: Bool
    public var progress: ProgressOptions

    public init(
        tasks: [PromptTask],
        settings: CollectSettings,
        provider: any TeacherProvider,
        validator: (any SampleValidator)?,
        output: AtomicOutputFile,
        round: Int = 1,
        keepRejected: Bool = false,
        budgetExhaustedOK: Bool = false,
        progress: ProgressOptions = ProgressOptions()
    ) {
        self.tasks = tasks
        self.settings = settings
        self.provider = provider
        self.validator = validator
        self.output = output
        self.round = round
        self.keepRejected = keepRejected
        self.budgetExhaustedOK = budgetExhaustedOK
        self.progress = progress
    }
}

/// How a run ended.
public struct CollectReport: Sendable {
    /// See `CollectExitCode`. For an interrupted run this is 130; the command replaces it with 128 + the signal.
    public var exitCode: Int32
    /// The final line(s) for stderr.
    public var summary: String
    public var result: CollectResult
    /// Records written to the output (nil: the output was not written).
    public var written: Int?
}

/// Runs a collection from the first request to the renamed output file, with progress and the final flush of the
/// progress channel.
public enum CollectRun {
    /// `log` writes one line to stderr (already scrubbed of the API key by the caller's providers).
    public static func run(_ job: CollectJob, log: @escaping @Sendable (String) -> Void) async -> CollectReport {
        for stale in job.output.removeStaleTemporaries() {
            log("removed \(stale), left by an earlier run that was killed")
        }
        let collector = Collector(
            settings: job.settings,
            provider: job.provider,
            validator: job.validator,
            failures: FailureReporter(sink: log)
        )
        let reporter = ProgressReporter(options: job.progress, total: job.tasks.count, printer: log)
        let result = await withTaskGroup(of: CollectResult?.self) { group in
            group.addTask {
                await reporter.run { collector.snapshot() }
                return nil
            }
            group.addTask { await collector.run(job.tasks) }
            var collected: CollectResult?
            while let next = await group.next() {
                if let next {
                    collected = next
                    group.cancelAll()
                }
            }
            return collected
        }
        await job.provider.shutdown()
        guard var result else {  // unreachable: the collector always returns
            return CollectReport(
                exitCode: CollectExitCode.failure,
                summary: "the collection did not finish",
                result: CollectResult(
                    outcomes: [],
                    stopCause: nil,
                    interrupted: true,
                    totals: LedgerSnapshot(),
                    elapsed: 0
                ),
                written: nil
            )
        }
        if Task.isCancelled { result.interrupted = true }
        let (code, written, headline) = await conclude(job, &result, collector: collector)
        result.totals = collector.snapshot()
        let summary = headline + "\n" + Self.totals(result, total: job.tasks.count)
        await reporter.finish(
            result.totals,
            status: Self.finalStatus(code: code, result.totals, total: job.tasks.count)
        )
        return CollectReport(exitCode: code, summary: summary, result: result, written: written)
    }

    /// Writes the output when the run deserves it and picks the exit code and headline.
    private static func conclude(
        _ job: CollectJob,
        _ result: inout CollectResult,
        collector: Collector
    ) async
        -> (Int32, Int?, String)
    {
        let path = job.output.path
        if result.interrupted {
            return (CollectExitCode.interrupted(signal: 2), nil, "interrupted: nothing written to \(path)")
        }
        if case .providerUnusable(let message) = result.stopCause {
            return (
                CollectExitCode.providerFailed, nil,
                "stopped: the provider refused the requests: \(message); nothing written to \(path)"
            )
        }
        let samples = result.outcomes.compactMap(\.sample)
        if case .budgetExhausted? = result.stopCause, collector.snapshot().requestsSent == 0 {
            // Not one request fitted: an empty file would look like a round that produced nothing.
            return (
                CollectExitCode.usage, nil,
                "\(result.stopCause.map(String.init(describing:)) ?? "budget exhausted"): the budget is too "
                    + "small for a single request, so none was sent; nothing written to \(path)"
            )
        }
        if samples.isEmpty && result.stopCause == nil {
            let reason = Self.firstFailure(result).map { " (last error: \($0))" } ?? ""
            return (CollectExitCode.providerFailed, nil, "every request failed\(reason); nothing written to \(path)")
        }
        let encoder = RecordEncoder(
            provider: job.provider.name,
            round: job.round,
            seed: job.settings.seed,
            validatorName: job.validator?.name
        )
        let lines = samples.filter { job.keepRejected || $0.accepted }.map {
            encoder.line($0, model: job.settings.model)
        }
        do { try job.output.write(lines) } catch {
            return (CollectExitCode.failure, nil, "\(error)")
        }
        collector.recordWritten(lines.count)
        if let stop = result.stopCause {
            let code = job.budgetExhaustedOK ? CollectExitCode.success : CollectExitCode.budgetExhausted
            return (code, lines.count, "\(stop); wrote the \(lines.count) records collected so far to \(path)")
        }
        return (CollectExitCode.success, lines.count, "wrote \(lines.count) records to \(path)")
    }

    static func firstFailure(_ result: CollectResult) -> ProviderError? {
        for outcome in result.outcomes.reversed() {
            if case .failed(let error, _) = outcome, error != .cancelled { return error }
        }
        return nil
    }

    /// `400 prompts: 395 answered (390 ok, 5 rejected), 3 failed, 2 not sent; 410 requests (7 retries, 2 rate limited); tokens 12345 in, 67890 out; est. $0.0123; 4.2s, 97.6 req/s`
    /// After an interrupt also `, 8 cancelled in flight`: the parts add up to the prompts.
    static func totals(_ result: CollectResult, total: Int) -> String {
        let t = result.totals
        let notSent = result.outcomes.reduce(0) { count, outcome in
            if case .notAttempted = outcome { return count + 1 }
            return count
        }
        var text =
            "\(total) prompts: \(t.generated) answered (\(t.generated - t.rejected) ok, \(t.rejected) rejected), \(t.failed) failed"
        if t.cancelled > 0 { text += ", \(t.cancelled) cancelled in flight" }
        if notSent > 0 { text += ", \(notSent) not sent" }
        text += "; \(t.requestsSent) requests (\(t.retries) retries, \(t.rateLimitsHit) rate limited)"
        text += "; tokens \(t.inputTokens) in, \(t.outputTokens) out; est. \(Ledger.dollars(t.costMicros))"
        let rate = result.elapsed > 0 ? Double(t.requestsSent) / result.elapsed : 0
        text += "; \(ProgressReporter.fixed(result.elapsed, 3))s, \(ProgressReporter.fixed(rate, 1)) req/s"
        return text
    }

    static func finalStatus(code: Int32, _ snapshot: LedgerSnapshot, total: Int) -> String {
        let progress = "\(snapshot.done)/\(total)\(ProgressReporter.detail(snapshot))"
        if code == CollectExitCode.success, snapshot.counter("skipped_budget") > 0 {
            return "budget exhausted \(progress)"
        }
        switch code {
        case CollectExitCode.success: return "done \(progress)"
        case CollectExitCode.budgetExhausted: return "budget exhausted \(progress)"
        case CollectExitCode.providerFailed: return "provider failed \(progress)"
        case CollectExitCode.failure: return "output not written \(progress)"
        default: return "interrupted \(progress)"
        }
    }
}
