import HeidiCore
import Testing

@testable import HeidiCollect

@Suite("Wire format, retries, pricing, redaction, progress messages")
struct WireAndPolicyTests {
    let request = TeacherRequest(
        task: Fixtures.tasks(1)[0],
        attempt: 1,
        model: "gpt-4o-mini",
        maxOutputTokens: 256,
        temperature: 0.2,
        seed: 99,
        timeout: 30
    )

    @Test func requestBodyIsValidJSONWithTheParameters() throws {
        let body = try StrictJSONParser.parse(ChatCompletionsWire.requestBody(request))
        #expect(body["model"]?.stringValue == "gpt-4o-mini")
        #expect(body["max_tokens"]?.int64Value == 256)
        #expect(body["seed"]?.int64Value == 99)
        guard case .array(let messages)? = body["messages"] else {
            Issue.record("no messages")
            return
        }
        #expect(messages.count == 2)
        #expect(messages[1]["content"]?.stringValue == request.task.userMessage)
    }

    @Test func completionsAreParsedWithUsage() throws {
        let body = Array(
            #"{"model":"m1","choices":[{"message":{"role":"assistant","content":"hello"}}],"usage":{"prompt_tokens":3,"completion_tokens":5}}"#
                .utf8
        )
        let response = try ChatCompletionsWire.parseResponse(body, contentType: "application/json")
        #expect(
            response
                == TeacherResponse(content: "hello", usage: TokenUsage(inputTokens: 3, outputTokens: 5), model: "m1")
        )
        let noUsage = Array(#"{"choices":[{"message":{"content":"12345678"}}]}"#.utf8)
        let estimated = try ChatCompletionsWire.parseResponse(noUsage, contentType: nil)
        #expect(estimated.usage.estimated)
        #expect(estimated.usage.outputTokens == 2)
    }

    @Test(arguments: [
        (#"{"choices":[{"message":{"content":"trunc"#, "application/json", "invalid JSON"),
        ("<!DOCTYPE html><html><body>Bad Gateway</body></html>", "text/html", "HTML page"),
        (#"{"id":"x"}"#, "application/json", "no \"choices\""),
        (#"{"choices":[]}"#, "application/json", "empty or not a list"),
        (
            #"{"choices":[{"message":{"content":null},"finish_reason":"content_filter"}]}"#, "application/json",
            "content_filter"
        ),
        (#"{"choices":[{"message":{"content":"  "}}]}"#, "application/json", "empty answer"),
        (#"[1,2]"#, "application/json", "a list"),
        ("", "application/json", "empty body"),
    ])
    func malformedResponsesAreTypedErrors(body: String, contentType: String, expected: String) {
        #expect {
            try ChatCompletionsWire.parseResponse(Array(body.utf8), contentType: contentType)
        } throws: { error in
            guard let error = error as? ProviderError, case .malformed(let message) = error else { return false }
            return message.contains(expected) && !error.isRetryable
        }
    }

    @Test func errorBodiesGiveTheirMessage() {
        #expect(
            ChatCompletionsWire.errorDetail(Array(#"{"error":{"message":"quota exceeded"}}"#.utf8)) == "quota exceeded"
        )
        #expect(
            ChatCompletionsWire.errorDetail(Array("<html>\n<h1>oops</h1></html>".utf8)) == "<html> <h1>oops</h1></html>"
        )
    }

    @Test func backoffGrowsIsJitteredCappedAndHonoursRetryAfter() {
        let policy = RetryPolicy(retries: 5, baseDelay: 1, maxDelay: 8, maxRetryAfter: 60)
        var random = SeededRandom(seed: 1)
        for (attempt, nominal) in [(2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0), (12, 8.0)] {
            for _ in 0..<50 {
                let delay = policy.delay(beforeAttempt: attempt, retryAfter: nil, random: &random)
                #expect(delay >= nominal / 2 && delay <= nominal, "attempt \(attempt): \(delay)")
            }
        }
        #expect(policy.delay(beforeAttempt: 2, retryAfter: 30, random: &random) == 30)
        #expect(policy.delay(beforeAttempt: 2, retryAfter: 3600, random: &random) == 60)
        #expect(policy.delay(beforeAttempt: 5, retryAfter: 0, random: &random) >= 4)
    }

    @Test func retryAfterAcceptsSecondsAndHTTPDates() {
        #expect(RetryAfter.seconds("2", now: 0) == 2)
        #expect(RetryAfter.seconds(" 0.5 ", now: 0) == 0.5)
        #expect(RetryAfter.seconds("-3", now: 0) == 0)
        // Sun, 06 Nov 1994 08:49:37 GMT = 784111777
        #expect(RetryAfter.seconds("Sun, 06 Nov 1994 08:49:37 GMT", now: 784_111_770) == 7)
        #expect(RetryAfter.seconds("Sun, 06 Nov 1994 08:49:37 GMT", now: 784_111_800) == 0)
        #expect(RetryAfter.seconds("soon", now: 0) == nil)
    }

    @Test func errorsAreClassified() {
        #expect(ProviderError.rateLimited(retryAfter: 1, message: "").isRetryable)
        #expect(ProviderError.server(status: 503, retryAfter: nil, message: "").isRetryable)
        #expect(ProviderError.timeout(seconds: 1).isRetryable)
        #expect(ProviderError.transport("refused").isRetryable)
        #expect(!ProviderError.rejected(status: 400, message: "").isRetryable)
        #expect(ProviderError.rejected(status: 404, message: "").isFatal)
        #expect(ProviderError.unauthorized(status: 401, message: "").isFatal)
        #expect(!ProviderError.malformed("x").isRetryable)
        #expect(ProviderError.server(status: 502, retryAfter: nil, message: "").code == "http_502")
    }

    @Test func pricingFollowsTheOriginalTable() throws {
        #expect(Pricing.price(for: "gpt-4o-mini") == Price(inputPerMillion: 0.15, outputPerMillion: 0.60))
        #expect(Pricing.price(for: "gpt-4o-mini-2024-07-18") == Pricing.defaults["gpt-4o-mini"])
        #expect(Pricing.price(for: "openai/gpt-4o") == Pricing.defaults["gpt-4o"])
        #expect(Pricing.price(for: "claude-3-haiku-20240307") == Price(inputPerMillion: 0.25, outputPerMillion: 1.25))
        #expect(Pricing.price(for: "llama3:8b") == nil)
        let price = try #require(Pricing.price(for: "gpt-4o"))
        #expect(price.costMicros(inputTokens: 1_000_000, outputTokens: 100_000) == 3_500_000)
    }

    @Test func scrubberRemovesTheKeyEverywhere() {
        let scrubber = SecretScrubber(secrets: ["plain-secret-value-123"])
        let text = scrubber.scrub("bad key plain-secret-value-123 and Bearer sk-abcdefghijklmnopqrstuvwxyz012345")
        #expect(!text.contains("plain-secret-value-123"))
        #expect(!text.contains("sk-abcdefghijklmnopqrstuvwxyz012345"))
        #expect(text.contains("[API_KEY]"))
    }

    @Test func progressDatagramsCarryIncrementsThatSumToTheTotals() throws {
        var message = ProgressChannelMessage()
        var sums: [String: Int] = [:]
        var snapshot = LedgerSnapshot()
        var datagrams: [String] = []
        for step in 1...5 {
            snapshot.counters["teacher_generated"] = step * 3
            if step >= 3 { snapshot.counters["rejected_syntax_error_go"] = step - 2 }
            snapshot.requestsSent = step * 4
            snapshot.costMicros = Double(step) * 0.7
            if let datagram = message.next(status: "generating \(step)/5", snapshot: snapshot) {
                datagrams.append(datagram)
            }
            #expect(message.next(status: "generating \(step)/5", snapshot: snapshot) == nil, "nothing changed")
        }
        for datagram in datagrams {
            for line in datagram.split(separator: "\n") where line.hasPrefix("X_HEIDI_") {
                let json = line.split(separator: "=", maxSplits: 1)[1]
                guard case .object(let members) = try StrictJSONParser.parse(Array(json.utf8)) else { continue }
                for (key, value) in members {
                    guard case .number(let literal) = value else {
                        Issue.record("not a number")
                        continue
                    }
                    #expect(Int(literal) != nil, "integers only: \(literal)")
                    sums[key, default: 0] += Int(literal) ?? 0
                }
            }
        }
        #expect(sums["teacher_generated"] == 15)
        #expect(sums["rejected_syntax_error_go"] == 3)
        #expect(sums["requests_sent"] == 20)
        #expect(sums["estimated_cost_usd_micros"] == 3)
        #expect(datagrams.first?.hasPrefix("STATUS=generating 1/5") == true)
    }
}

@Suite("Rate limit schedule")
struct TokenBucketTests {
    @Test func burstThenOneSlotPerInterval() {
        var bucket = TokenBucket(requestsPerSecond: 2)
        let base = ContinuousClock.now
        let starts = (0..<5).map { _ in bucket.reserve(at: base) - base }
        #expect(starts == [.zero, .zero, .milliseconds(500), .milliseconds(1000), .milliseconds(1500)])
        // After a quiet period the bucket is full again, but never fuller than one second's worth.
        let later = base + .seconds(10)
        #expect(bucket.reserve(at: later) == later)
        #expect(bucket.reserve(at: later) == later)
        #expect(bucket.reserve(at: later) == later + .milliseconds(500))
    }

    @Test func slowRatesAllowOneAtATime() {
        var bucket = TokenBucket(requestsPerSecond: 0.5)
        let base = ContinuousClock.now
        #expect(bucket.reserve(at: base) == base)
        #expect(bucket.reserve(at: base + .seconds(1)) == base + .seconds(2))
        #expect(bucket.reserve(at: base + .seconds(10)) == base + .seconds(10))
    }
}

@Suite("Budget reservations")
struct LedgerTests {
    @Test func aRequestWaitsForRoomThenTheBudgetStops() async throws {
        let ledger = Ledger(budget: Budget(maxTokens: 300), price: .free)
        let estimate = RequestEstimate(inputTokens: 100, outputTokens: 100)
        let first = try #require(await ledger.reserve(estimate))
        // 0 used + 200 reserved + 200 > 300: the second waits until the first settles (or finds room at once if it
        // runs after the settle); either way it gets its reservation.
        async let second = ledger.reserve(estimate)
        ledger.settle(first, usage: TokenUsage(inputTokens: 30, outputTokens: 20))
        let secondReservation = try #require(await second)
        #expect(ledger.snapshot.requestsSent == 2)
        async let third = ledger.reserve(estimate)
        ledger.settle(secondReservation, usage: TokenUsage(inputTokens: 40, outputTokens: 30))
        // 120 used + 200 may be needed > 300: refused, and the run stops issuing.
        #expect(await third == nil)
        #expect(ledger.snapshot.inputTokens + ledger.snapshot.outputTokens == 120)
        guard case .budgetExhausted(.tokens, let message)? = ledger.stopCause else {
            Issue.record("expected a token budget stop")
            return
        }
        #expect(message.contains("120 of 300 tokens used"))
        #expect(
            await ledger.reserve(RequestEstimate(inputTokens: 1, outputTokens: 1)) == nil,
            "no request after a stop"
        )
    }

    @Test func requestBudgetCountsAttempts() async {
        let ledger = Ledger(budget: Budget(maxRequests: 2), price: .free)
        let estimate = RequestEstimate(inputTokens: 1, outputTokens: 1)
        #expect(await ledger.reserve(estimate) != nil)
        #expect(await ledger.reserve(estimate) != nil)
        #expect(await ledger.reserve(estimate) == nil)
        #expect(ledger.snapshot.requestsSent == 2)
        #expect(ledger.stopCause == .budgetExhausted(.requests, "2 requests sent (--max-requests 2)"))
    }
}
