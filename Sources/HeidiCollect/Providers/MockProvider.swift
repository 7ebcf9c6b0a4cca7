/// A teacher without a network, for tests, benchmarks and dry runs of a pipeline.
///
/// Each attempt waits `latency` (plus up to `latencyJitter` × latency, drawn from the seed), then either fails as
/// injected (`failureRate`: half HTTP 429, half HTTP 500) or answers with a plausible explanation and one fenced code
/// block in the task's language; a share (`invalidRate`) of the answers holds deliberately broken code, so that
/// validation has something to reject. Everything is drawn from the run's seed and the item's index (and the attempt,
/// for failures), so two runs with the same seed give the same answers whatever the scheduling.
public struct MockProvider: TeacherProvider {
    /// How the mock behaves.
    public struct Behaviour: Sendable, Equatable {
        /// Seconds each attempt takes (the original engine's MockProvider used 100 ms).
        public var latency: Double
        /// Extra latency, as a fraction of `latency`, drawn per attempt (0 = always exactly `latency`).
        public var latencyJitter: Double
        /// Probability that an attempt fails with an injected 429 or 500.
        public var failureRate: Double
        /// Probability that an answer's code block is deliberately invalid.
        public var invalidRate: Double

        public init(
            latency: Double = 0.1,
            latencyJitter: Double = 0,
            failureRate: Double = 0,
            invalidRate: Double = 0.1
        ) {
            self.latency = latency
            self.latencyJitter = latencyJitter
            self.failureRate = failureRate
            self.invalidRate = invalidRate
        }
    }

    public let behaviour: Behaviour
    public let seed: UInt64
    public var name: String { "mock" }

    public init(behaviour: Behaviour = Behaviour(), seed: UInt64) {
        self.behaviour = behaviour
        self.seed = seed
    }

    public func complete(_ request: TeacherRequest) async throws(ProviderError) -> TeacherResponse {
        let index = request.task.index
        var attemptRandom = SeededRandom(seed: seed, "mock-attempt", index, request.attempt)
        let delay = behaviour.latency * (1 + behaviour.latencyJitter * attemptRandom.unit())
        // One sleep per attempt, cut at the timeout: no timer task racing it (a run may have a thousand in flight).
        let wait = min(delay, request.timeout)
        if wait > 0 {
            do { try await Task.sleep(for: .nanoseconds(Int64(wait * 1e9))) } catch { throw .cancelled }
        } else if Task.isCancelled {
            throw .cancelled
        }
        if delay > request.timeout { throw .timeout(seconds: request.timeout) }
        if attemptRandom.unit() < behaviour.failureRate {
            if attemptRandom.next() % 2 == 0 {
                throw .rateLimited(retryAfter: nil, message: "injected by the mock provider")
            }
            throw .server(status: 500, retryAfter: nil, message: "injected by the mock provider")
        }
        var answerRandom = SeededRandom(seed: seed, "mock-answer", index)
        let invalid = answerRandom.unit() < behaviour.invalidRate
        let content = MockAnswers.answer(for: request.task, invalid: invalid, random: &answerRandom)
        let prompt = request.task.system + "\n" + request.task.userMessage
        return TeacherResponse(
            content: content,
            // Like a real model, never more output tokens than max_tokens.
            usage: TokenUsage(
                inputTokens: TokenUsage.estimate(prompt),
                outputTokens: min(TokenUsage.estimate(content), request.maxOutputTokens)
            ),
            model: request.model
        )
    }

    public func shutdown() async {}
}
