import HeidiCore
import Synchronization
import Testing

@testable import HeidiCollect

#if canImport(Glibc)
import Glibc
#endif

@Suite("Collection with the mock provider")
struct CollectorTests {
    func mock(
        latency: Double = 0.005,
        jitter: Double = 0,
        failureRate: Double = 0,
        invalidRate: Double = 0,
        seed: UInt64 = 42
    )
        -> MockProvider
    {
        MockProvider(
            behaviour: .init(
                latency: latency,
                latencyJitter: jitter,
                failureRate: failureRate,
                invalidRate: invalidRate
            ),
            seed: seed
        )
    }

    @Test func sameSeedGivesIdenticalBytesInPromptOrder() async throws {
        let harness = try JobHarness()
        let sets = try TemplateLoader.load(Fixtures.templatesDirectory)
        let tasks = TemplateLoader.tasks(from: sets, samples: 60, seed: 9, round: 1)
        // Jittered latency and injected failures make completion order differ between runs.
        let settings = CollectSettings.test(concurrency: 16, retries: 8, seed: 9)
        let (first, _) = await harness.run(
            tasks,
            settings: settings,
            provider: mock(latency: 0.01, jitter: 3, failureRate: 0.3, seed: 9),
            validator: MockAwareValidator(),
            keepRejected: true,
            output: "a.jsonl"
        )
        let (second, _) = await harness.run(
            tasks,
            settings: settings,
            provider: mock(latency: 0.01, jitter: 3, failureRate: 0.3, seed: 9),
            validator: MockAwareValidator(),
            keepRejected: true,
            output: "b.jsonl"
        )
        #expect(first.exitCode == 0 && second.exitCode == 0)
        let a = try FileSystem.read(harness.directory.file("a.jsonl"))
        let b = try FileSystem.read(harness.directory.file("b.jsonl"))
        #expect(a == b)
        let records = try Fixtures.records(harness.directory.file("a.jsonl"))
        #expect(records.count == 60)
        #expect(records.map { $0["metadata"]?["prompt_index"]?.int64Value } == (0..<60).map { Int64($0) })
        #expect(first.result.totals.retries > 0, "the failure rate caused retries")

        let (other, _) = await harness.run(
            tasks,
            settings: .test(concurrency: 16, retries: 8, seed: 10),
            provider: mock(latency: 0.01, seed: 10),
            output: "c.jsonl"
        )
        #expect(other.exitCode == 0)
        #expect(try FileSystem.read(harness.directory.file("c.jsonl")) != a)
    }

    @Test func recordsHaveTheDocumentedShape() async throws {
        let harness = try JobHarness()
        let (report, _) = await harness.run(
            Fixtures.tasks(3, language: "go"),
            settings: .test(),
            provider: mock(),
            validator: MockAwareValidator()
        )
        #expect(report.exitCode == 0)
        #expect(report.written == 3)
        let record = try #require(try Fixtures.records(harness.output).first)
        guard case .object(let members) = record else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.key) == ["id", "instruction", "input", "output", "metadata"])
        let metadata = try #require(record["metadata"])
        #expect(metadata["teacher_model"]?.stringValue == "test-model")
        #expect(metadata["provider"]?.stringValue == "mock")
        #expect(metadata["task_type"]?.stringValue == "code_completion")
        #expect(metadata["language"]?.stringValue == "go")
        #expect(metadata["seed"]?.int64Value == 42)
        #expect(metadata["validation"]?["passed"] == .bool(true))
        #expect(metadata["validation"]?["validator"]?.stringValue == "mock-aware")
        #expect((metadata["usage"]?["output_tokens"]?.int64Value ?? 0) > 0)
        #expect(record["output"]?.stringValue?.contains("```go\npackage main") == true)
    }

    @Test func concurrencyWindowIsRespected() async throws {
        let harness = try JobHarness()
        let probe = ConcurrencyProbe(mock(latency: 0.02))
        let (report, _) = await harness.run(Fixtures.tasks(40), settings: .test(concurrency: 5), provider: probe)
        #expect(report.exitCode == 0)
        #expect(probe.calls == 40)
        #expect(probe.peak <= 5)
        #expect(probe.peak >= 2, "requests did run concurrently")
    }

    @Test func injectedFailuresAreRetriedAndCounted() async throws {
        let harness = try JobHarness()
        let (report, _) = await harness.run(
            Fixtures.tasks(50),
            settings: .test(concurrency: 10, retries: 20),
            provider: mock(failureRate: 0.4)
        )
        let totals = report.result.totals
        #expect(report.exitCode == 0)
        #expect(totals.generated == 50)
        #expect(totals.failed == 0)
        #expect(totals.retries > 0)
        #expect(totals.rateLimitsHit > 0)
        #expect(totals.requestsSent == 50 + totals.retries)
    }

    @Test func exhaustedRetriesFailThePromptWithItsReason() async throws {
        let harness = try JobHarness()
        let (report, log) = await harness.run(
            Fixtures.tasks(20),
            settings: .test(concurrency: 4, retries: 1),
            provider: mock(failureRate: 0.6)
        )
        let totals = report.result.totals
        #expect(totals.generated + totals.failed == 20)
        #expect(totals.failed > 0)
        #expect(totals.counter("failed_rate_limited") + totals.counter("failed_http_500") == totals.failed)
        #expect(report.written == totals.generated)
        #expect(log.text.contains("further"), "the first failure of a kind is described")
    }

    @Test func validationRejectionsAreCountedAndLeftOut() async throws {
        let harness = try JobHarness()
        let tasks =
            Fixtures.tasks(80, language: "python")
            + Fixtures.tasks(40, language: "cpp").map {
                var task = $0
                task.index += 80
                task.id = PromptTask.recordID(round: 1, index: task.index)
                return task
            }
        let expectedInvalid = tasks.filter {
            var random = SeededRandom(seed: 42, "mock-answer", $0.index)
            return random.unit() < 0.25
        }.count
        #expect(expectedInvalid > 0)
        let (report, _) = await harness.run(
            tasks,
            settings: .test(concurrency: 32),
            provider: mock(invalidRate: 0.25),
            validator: MockAwareValidator()
        )
        let totals = report.result.totals
        #expect(report.exitCode == 0)
        #expect(totals.rejected == expectedInvalid)
        #expect(totals.counter("validated_ok") == 120 - expectedInvalid)
        #expect(
            totals.counter("rejected_syntax_error_python") + totals.counter("rejected_syntax_error_cpp")
                == expectedInvalid
        )
        #expect(report.written == 120 - expectedInvalid)
        #expect(totals.counter("raw_written") == 120 - expectedInvalid)
        #expect(
            try Fixtures.records(harness.output).allSatisfy { $0["metadata"]?["validation"]?["passed"] == .bool(true) }
        )
    }

    @Test func timeoutsAreRetriedThenFail() async throws {
        let harness = try JobHarness()
        let (report, _) = await harness.run(
            Fixtures.tasks(3),
            settings: .test(timeout: 0.05, retries: 1),
            provider: mock(latency: 30)
        )
        let totals = report.result.totals
        #expect(report.exitCode == CollectExitCode.providerFailed)
        #expect(totals.counter("failed_timeout") == 3)
        #expect(totals.requestsSent == 6)
        #expect(totals.retries == 3)
        #expect(report.written == nil)
        #expect(!Fixtures.fileExists(harness.output))
        #expect(report.summary.contains("every request failed"))
    }

    @Test func maxRequestsStopsIssuingAndWritesWhatWasCollected() async throws {
        let harness = try JobHarness()
        let (report, _) = await harness.run(
            Fixtures.tasks(30),
            settings: .test(concurrency: 4, budget: Budget(maxRequests: 7)),
            provider: mock()
        )
        let totals = report.result.totals
        #expect(report.exitCode == CollectExitCode.budgetExhausted)
        #expect(totals.requestsSent == 7)
        #expect(totals.generated == 7)
        #expect(totals.counter("skipped_budget") == 23)
        #expect(try Fixtures.records(harness.output).count == 7)
        #expect(report.summary.contains("max-requests 7"))
        #expect(harness.directory.entries == ["out.jsonl"], "no temporary file is left")
    }

    @Test func maxTokensIsNeverExceeded() async throws {
        let harness = try JobHarness()
        let budget = Budget(maxTokens: 4000)
        let (report, _) = await harness.run(
            Fixtures.tasks(100),
            settings: .test(concurrency: 16, budget: budget, maxOutputTokens: 200),
            provider: mock()
        )
        let totals = report.result.totals
        #expect(report.exitCode == CollectExitCode.budgetExhausted)
        #expect(totals.inputTokens + totals.outputTokens <= 4000)
        #expect(totals.generated > 3)
        #expect(try Fixtures.records(harness.output).count == totals.generated)
        guard case .budgetExhausted(.tokens, _)? = report.result.stopCause else {
            Issue.record("expected a token budget stop, got \(String(describing: report.result.stopCause))")
            return
        }
    }

    @Test func maxCostIsNeverExceeded() async throws {
        let harness = try JobHarness()
        // $1000 per million tokens: one micro-dollar... a thousand per token; $2 allows about 2,000 tokens.
        let price = Price(inputPerMillion: 1000, outputPerMillion: 1000)
        let (report, _) = await harness.run(
            Fixtures.tasks(100),
            settings: .test(
                concurrency: 16,
                budget: Budget(maxCostUSD: 2),
                price: price,
                maxOutputTokens: 150
            ),
            provider: mock()
        )
        let totals = report.result.totals
        #expect(report.exitCode == CollectExitCode.budgetExhausted)
        #expect(totals.costMicros <= 2_000_000)
        #expect(totals.costMicros == Double(totals.inputTokens + totals.outputTokens) * 1000)
        #expect(totals.generated > 0)
        guard case .budgetExhausted(.cost, _)? = report.result.stopCause else {
            Issue.record("expected a cost stop, got \(String(describing: report.result.stopCause))")
            return
        }
    }

    @Test func cancellationWritesNothingAndEndsPromptly() async throws {
        let harness = try JobHarness()
        try FileSystem.writeAtomically(harness.output, Array("previous\n".utf8))
        let tasks = Fixtures.tasks(50)
        let run = Task { await harness.run(tasks, settings: .test(concurrency: 10), provider: mock(latency: 60)) }
        try await Task.sleep(for: .milliseconds(100))
        run.cancel()
        let (report, _) = await run.value
        #expect(report.result.interrupted)
        #expect(report.exitCode == 130)
        #expect(report.written == nil)
        #expect(try FileSystem.read(harness.output) == Array("previous\n".utf8), "the old output is untouched")
        #expect(harness.directory.entries == ["out.jsonl"])
    }

    /// Validations in progress when the run is interrupted (their toolchain children killed) are in flight, not
    /// rejected; every prompt is in exactly one part of the summary.
    @Test func interruptedValidationsAreCancelledNotRejected() async throws {
        let harness = try JobHarness()
        let validator = HeldValidator()
        let tasks = Fixtures.tasks(20)
        let run = Task {
            await harness.run(
                tasks,
                settings: .test(concurrency: 4),
                provider: mock(latency: 0.001),
                validator: validator
            )
        }
        // Four answers are being validated (the window is full); then the interrupt. Patient: on a loaded machine the
        // suites beside this one can hold the cooperative pool for many seconds.
        let deadline = ContinuousClock.now + .seconds(90)
        while validator.started < 4, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        try #require(validator.started >= 4, "the four validations never started")
        run.cancel()
        let (report, _) = await run.value
        let totals = report.result.totals
        #expect(report.result.interrupted)
        #expect(totals.rejected == 0, "\(totals.counters)")
        #expect(totals.cancelled == 4, "\(totals.counters)")
        #expect(
            report.summary.contains(
                "20 prompts: 0 answered (0 ok, 0 rejected), 0 failed, 4 cancelled in flight, 16 not sent"
            ),
            "\(report.summary)"
        )
    }

    /// A budget that cannot pay for one request sends nothing and writes nothing, and says so.
    @Test func aBudgetTooSmallForOneRequestWritesNothing() async throws {
        let harness = try JobHarness()
        let (report, _) = await harness.run(
            Fixtures.tasks(5),
            settings: .test(budget: Budget(maxTokens: 10)),
            provider: mock()
        )
        #expect(report.exitCode == CollectExitCode.usage)
        #expect(report.written == nil)
        #expect(report.result.totals.requestsSent == 0)
        #expect(report.summary.contains("too small for a single request"), "\(report.summary)")
        #expect(!Fixtures.fileExists(harness.output))
        #expect(harness.directory.entries == [])
    }

    @Test func staleTemporaryFilesOfKilledRunsAreRemoved() async throws {
        let harness = try JobHarness()
        let stale = harness.directory.file(".out.jsonl.heidi-collect.999999999.tmp")
        let foreign = harness.directory.file(".other.jsonl.heidi-collect.999999999.tmp")
        try FileSystem.writeAtomically(stale, Array("{\"half".utf8))
        try FileSystem.writeAtomically(foreign, Array("x".utf8))
        let (report, log) = await harness.run(Fixtures.tasks(2), settings: .test(), provider: mock())
        #expect(report.exitCode == 0)
        #expect(!Fixtures.fileExists(stale))
        #expect(Fixtures.fileExists(foreign), "only this output's leftovers are touched")
        #expect(log.text.contains("removed \(stale)"))
    }
}

/// Rejects every answer, but only once the run is cancelled: a validation that is in progress at the interrupt.
final class HeldValidator: SampleValidator {
    private let count = Mutex(0)
    var name: String { "held" }
    var started: Int { count.withLock { $0 } }

    func validate(_ text: String, expectedLanguage: String?) async -> SampleVerdict {
        count.withLock { $0 += 1 }
        while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
        return .rejected("timeout")
    }
}
