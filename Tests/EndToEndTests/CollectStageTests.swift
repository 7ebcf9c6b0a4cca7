import HeidiAPI
import HeidiCore
import Testing

/// heidid running `heidi-collect` (mock provider, real toolchain validation) as its generate stage: live counters
/// in `heidictl status`, their sums in `stage_end`, and a dataset the next stage can read.
@Suite(.serialized)
struct CollectStageTests {
    /// The repository's root (this file is Tests/EndToEndTests/CollectStageTests.swift).
    static let repository = FileSystem.dirname(FileSystem.dirname(FileSystem.dirname(#filePath)))

    @Test("heidi-collect as the generate stage: live counters in status, sums in stage_end, dataset written")
    func collectAsGenerateStage() async throws {
        let s = try Session()
        defer { s.tearDown() }
        let output = "{run_dir}/data/raw_round_{round}.jsonl"
        // 40 prompts at 200 ms, one at a time: at least 8 s of generation, long enough to be watched even when the
        // suite's other tests keep both cores busy.
        let collect = [
            Binaries.heidiCollect, "--provider", "mock", "--templates", "\(Self.repository)/contrib/collect/templates",
            "--samples", "40", "--concurrency", "1", "--mock-latency", "200ms", "--mock-invalid-rate", "0.2",
            "--seed", "7", "--round", "{round}", "--output", output,
        ].map(TestConfig.quoted).joined(separator: " ")
        try s.writeConfig(
            TestConfig.shell(mode: .collect, stages: [.generate: collect, .validate: "test -s \(output)"])
        )
        try await s.startDaemon()
        #expect(try await s.ctl("start", "--mode", "collect", "--rounds", "1").status == 0)

        let live = try await s.waitForStatus("live counters from heidi-collect", timeout: 30) {
            ($0.child?.counters?["teacher_generated"] ?? 0) > 0 && $0.child?.status?.hasPrefix("generating") == true
        }
        #expect((live.child?.usage?["requests_sent"] ?? 0) > 0, "usage: \(String(describing: live.child?.usage))")
        let human = try await s.ctl("status")
        #expect(human.stdout.contains("teacher_generated="), "human status: \(human.stdout)")

        let events = try await s.waitForEvent("round_collected", timeout: 60)
        let end = try #require(events.of("stage_end", stage: "generate").first)
        #expect(end.level == "info", "generate: \(end.message)")
        let generated = end.counters["teacher_generated"] ?? 0
        let written = end.counters["raw_written"] ?? 0
        #expect(generated == 40, "counters_delta: \(end.counters)")
        #expect(written > 0 && written < 40, "some answers are broken on purpose and rejected: \(end.counters)")
        let rejected = end.counters.filter { $0.key.hasPrefix("rejected_") && $0.key != "rejected" }.values.reduce(0, +)
        #expect(written + rejected == generated, "counters_delta: \(end.counters)")
        #expect(end.usage["requests_sent"] ?? 0 >= 40, "usage_delta: \(end.usage)")

        let status = try await s.status()
        let runDir = "\(s.stateDir)/runs/\(status.runID ?? "?")"
        let dataset = try FileSystem.read("\(runDir)/data/raw_round_1.jsonl")
        let lines = dataset.split(separator: UInt8(ascii: "\n"))
        #expect(Double(lines.count) == written, "the dataset has one line per written sample")
        for line in lines {
            let record = try StrictJSONParser.parse(line)
            #expect(record["instruction"]?.stringValue != nil && record["output"]?.stringValue != nil)
            #expect(record["metadata"]?["validation"] != nil)
        }
    }
}
