import FoundationEssentials
import Testing

@testable import HeidiValidation

@Suite struct ValidationStatsTests {
    static func report(_ reason: String?, notes: [String] = []) -> ValidationReport {
        ValidationReport(passed: reason == nil, blocks: [], rejectionReason: reason, notes: notes)
    }

    @Test func countsPerReason() async {
        let stats = ValidationStats()
        await stats.record(Self.report(nil))
        await stats.record(Self.report(nil, notes: ["unterminated_fence", "unterminated_fence"]))
        await stats.record(Self.report("syntax_error_python"))
        await stats.record(Self.report("syntax_error_python"))
        await stats.record(Self.report("no_code_block"))
        let counters = await stats.counters
        #expect(
            counters == [
                "validated": 5, "passed": 2, "rejected": 3, "rejected_syntax_error_python": 2,
                "rejected_no_code_block": 1,
                "note_unterminated_fence": 1,
            ]
        )
        let snapshot = await stats.snapshot
        #expect(snapshot.rejections == ["syntax_error_python": 2, "no_code_block": 1])
    }

    @Test func merging() {
        var first = ValidationCounts()
        first.record(Self.report("timeout_go"))
        var second = ValidationCounts()
        second.record(Self.report("timeout_go"))
        second.record(Self.report(nil))
        first.merge(second)
        #expect(first.validated == 3)
        #expect(first.counters["rejected_timeout_go"] == 2)
    }

    /// The report encodes with plain strings for the language source and snake_case codes as given.
    @Test func reportJSON() throws {
        let report = ValidationReport(
            passed: false,
            blocks: [
                BlockResult(
                    index: 0,
                    line: 3,
                    language: "python",
                    languageSource: .guessed,
                    validated: true,
                    passed: false,
                    reason: "syntax_error_python",
                    diagnostic: "SyntaxError",
                    durationMs: 12
                )
            ],
            rejectionReason: "syntax_error_python"
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(report), as: UTF8.self)
        #expect(json.contains("\"languageSource\":\"guessed\""))
        #expect(json.contains("\"rejectionReason\":\"syntax_error_python\""))
        #expect(try JSONDecoder().decode(ValidationReport.self, from: Data(json.utf8)) == report)
        #expect(report.blocks[0].languageSource == "guessed")
    }
}

@Suite struct ConcurrencyLimiterTests {
    @Test func boundsHolders() async throws {
        let limiter = ConcurrencyLimiter(limit: 3)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await limiter.withPermit { try? await Task.sleep(nanoseconds: 5_000_000) }
                }
            }
            try await group.waitForAll()
        }
        #expect(await limiter.peakHolders == 3)
    }

    /// A waiter whose task is cancelled leaves the queue with CancellationError; the permit stays usable.
    @Test func cancelledWaiterLeaves() async throws {
        let limiter = ConcurrencyLimiter(limit: 1)
        try await limiter.acquire()
        let waiter = Task { try await limiter.acquire() }
        try await Task.sleep(nanoseconds: 50_000_000)
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        await limiter.release()
        try await limiter.acquire()  // free again: the cancelled waiter did not take it
        await limiter.release()
    }
}
