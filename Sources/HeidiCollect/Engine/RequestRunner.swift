/// Takes one prompt through its attempts: rate limit, budget reservation, the provider call (which ends within
/// the timeout), backoff and retry, then validation of the answer.
struct RequestRunner: Sendable {
    let settings: CollectSettings
    let provider: any TeacherProvider
    let validator: (any SampleValidator)?
    let ledger: Ledger
    let rateLimiter: RateLimiter
    let reporter: FailureReporter

    func run(_ task: PromptTask) async -> ItemOutcome {
        let estimate = RequestEstimate.of(task, maxOutputTokens: settings.maxOutputTokens)
        var backoffRandom = SeededRandom(seed: settings.seed, "backoff", task.index)
        var seedRandom = SeededRandom(seed: settings.seed, "request", task.index)
        let requestSeed = seedRandom.next()
        var lastError: ProviderError?
        var attempt = 1
        while true {
            do { try await rateLimiter.acquire() } catch { return .failed(.cancelled, attempts: attempt - 1) }
            guard let reservation = await ledger.reserve(estimate) else {
                // The budget ran out between retries: the prompt failed with its last error.
                return lastError.map { .failed($0, attempts: attempt - 1) } ?? .notAttempted
            }
            let request = TeacherRequest(
                task: task,
                attempt: attempt,
                model: settings.model,
                maxOutputTokens: settings.maxOutputTokens,
                temperature: settings.temperature,
                seed: requestSeed,
                timeout: settings.timeout
            )
            let result: Result<TeacherResponse, ProviderError>
            do throws(ProviderError) { result = .success(try await provider.complete(request)) } catch {
                result = .failure(error)
            }
            switch result {
            case .success(let response):
                ledger.settle(reservation, usage: response.usage)
                let verdict = await validator?.validate(response.content, expectedLanguage: task.language)
                // A check cut short by the run's cancellation (its toolchain child killed) says nothing about the
                // answer: the prompt was in flight when the run stopped, not rejected.
                if Task.isCancelled, verdict?.passed == false { return .failed(.cancelled, attempts: attempt) }
                return .generated(GeneratedSample(task: task, response: response, verdict: verdict, attempts: attempt))
            case .failure(let error):
                ledger.settle(reservation, usage: nil)
                if case .cancelled = error { return .failed(.cancelled, attempts: attempt) }
                if case .rateLimited = error { ledger.noteRateLimited() }
                if let retryAfter = error.retryAfter {
                    rateLimiter.pause(for: min(retryAfter, settings.retry.maxRetryAfter))
                }
                if error.isFatal { ledger.stop(.providerUnusable(error.description)) }
                await reporter.report(
                    error,
                    task: task,
                    attempt: attempt,
                    final: !error.isRetryable || attempt > settings.retry.retries
                )
                guard error.isRetryable, attempt <= settings.retry.retries else {
                    return .failed(error, attempts: attempt)
                }
                lastError = error
                attempt += 1
                ledger.noteRetry()
                let delay = settings.retry.delay(
                    beforeAttempt: attempt,
                    retryAfter: error.retryAfter,
                    random: &backoffRandom
                )
                do { try await Task.sleep(for: .nanoseconds(Int64(delay * 1e9))) } catch {
                    return .failed(.cancelled, attempts: attempt - 1)
                }
            }
        }
    }
}
