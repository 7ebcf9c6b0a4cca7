import HeidiAPI
import HeidiCore
import Testing

/// Collect mode and `heidictl train-now` (SPEC §2): queued while collecting, started when a round waits, refused
/// otherwise.
@Suite(.serialized)
struct TrainNowTests {
    /// `heidictl --json train-now`, decoded; expects exit 0.
    static func trainNow(_ s: Session) async throws -> ActionResponse {
        let result = try await s.ctl("--json", "train-now")
        guard result.status == 0 else { throw HarnessError("train-now was not accepted: \(result)") }
        return try JSONCoding.decode(ActionResponse.self, from: result.stdoutBytes)
    }

    /// The stages that started in `round`, in order.
    static func stagesStarted(_ events: [JournalLine], round: Int64) -> [String] {
        events.filter { $0.type == "stage_start" && $0.round == round }.compactMap(\.stage)
    }

    @Test("train-now while COLLECTING is queued; the round then trains instead of stopping, and the run completes")
    func queuedWhileCollecting() async throws {
        let s = try Session()
        defer { s.tearDown() }
        let gate = s.dir.file("gate")
        try s.writeConfig(TestConfig.shell(mode: .collect, stages: [.generate: TestConfig.waitFor(gate: gate)]))
        try await s.startDaemon()
        let start = try await s.ctl("start", "--mode", "collect", "--rounds", "1")
        #expect(start.status == 0, "start: \(start)")
        try await s.waitForStatus("COLLECTING with a child") { $0.state == .collecting && $0.child != nil }

        let response = try await Self.trainNow(s)
        #expect(response.outcome == "queued")
        #expect(response.state == .collecting)
        #expect(try await s.status().trainNowPending)

        try s.openGate(gate)
        let events = try await s.waitForEvent("pipeline_complete")
        #expect(Self.stagesStarted(events, round: 1) == ["generate", "validate", "train", "eval"])
        let triggers = events.of("train_now_trigger")
        #expect(triggers.first?.stage == "generate", "the first trigger is the queued one: \(triggers.map(\.message))")
        #expect(events.of("round_collected").isEmpty, "a queued train-now never lets the round stop in IDLE")
        let status = try await s.waitForStatus("IDLE after the run") { $0.state == .idle }
        #expect(status.round == 1)
        #expect(!status.trainNowPending)
        #expect(!status.awaitingTrainNow)
    }

    @Test("train-now on a collected round starts training at once; the run continues with round 2")
    func startedWhenCollected() async throws {
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell(mode: .collect))
        try await s.startDaemon()
        let start = try await s.ctl("start", "--mode", "collect", "--rounds", "2")
        #expect(start.status == 0, "start: \(start)")
        try await s.waitForStatus("round 1 collected") { $0.state == .idle && $0.awaitingTrainNow && $0.round == 1 }
        let collected = try s.events()
        #expect(Self.stagesStarted(collected, round: 1) == ["generate", "validate"])
        #expect(collected.of("round_collected", round: 1).count == 1)

        #expect(try await Self.trainNow(s).outcome == "started")
        try await s.waitForStatus("round 2 collected") { $0.state == .idle && $0.awaitingTrainNow && $0.round == 2 }
        let afterFirst = try s.events()
        #expect(Self.stagesStarted(afterFirst, round: 1) == ["generate", "validate", "train", "eval"])
        #expect(Self.stagesStarted(afterFirst, round: 2) == ["generate", "validate"])
        #expect(afterFirst.of("pipeline_complete").isEmpty)

        #expect(try await Self.trainNow(s).outcome == "started")
        let events = try await s.waitForEvent("pipeline_complete")
        #expect(Self.stagesStarted(events, round: 2) == ["generate", "validate", "train", "eval"])
        let status = try await s.waitForStatus("IDLE after the run") { $0.state == .idle && !$0.awaitingTrainNow }
        #expect(status.round == 2)
    }

    @Test("start refuses to drop a collected round (409, with the reason) unless --discard, which is journaled")
    func startKeepsACollectedRoundUnlessDiscarding() async throws {
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell(mode: .collect))
        try await s.startDaemon()
        #expect(try await s.ctl("start", "--mode", "collect", "--rounds", "1").status == 0)
        let waiting = try await s.waitForStatus("round 1 collected") { $0.state == .idle && $0.awaitingTrainNow }
        let first = try #require(waiting.runID)

        let refused = try await s.ctl("--json", "start")
        #expect(refused.status == 1, "start over a collected round: \(refused)")
        let body = try JSONCoding.decode(APIErrorBody.self, from: refused.stdoutBytes)
        #expect(body.error.code == .invalidState, "409")
        #expect(
            body.error.message.contains("round 1/1 of run \(first) is collected")
                && body.error.message.contains("--discard"),
            "\(body.error.message)"
        )
        let still = try await s.status()
        #expect(still.runID == first && still.awaitingTrainNow, "nothing was dropped")
        #expect(try s.events().of("pipeline_start").count == 1)

        let discarded = try await s.ctl("start", "--discard", "--mode", "full", "--rounds", "1")
        #expect(discarded.status == 0, "start --discard: \(discarded)")
        let events = try await s.waitForEvent("pipeline_complete")
        let stop = try #require(events.of("pipeline_stop").last)
        #expect(stop.level == "warn" && stop.runID == first, "\(stop)")
        #expect(stop.message.contains("discarded"), "\(stop.message)")
        let types = events.map(\.type)
        let stopIndex = try #require(types.lastIndex(of: "pipeline_stop"))
        #expect(types[stopIndex + 1] == "pipeline_start", "the discard is journaled right before the new run: \(types)")
    }

    @Test("train-now is refused (exit 1) with no run and in full mode")
    func refused() async throws {
        let s = try Session()
        defer { s.tearDown() }
        let gate = s.dir.file("gate")
        try s.writeConfig(TestConfig.shell(mode: .full, stages: [.generate: TestConfig.waitFor(gate: gate)]))
        try await s.startDaemon()

        let idle = try await s.ctl("train-now")
        #expect(idle.status == 1, "train-now with no run: \(idle)")
        #expect(idle.stderr.contains("refused"), "\(idle)")

        #expect(try await s.ctl("start", "--mode", "full", "--rounds", "1").status == 0)
        try await s.waitForStatus("COLLECTING") { $0.state == .collecting }
        let full = try await s.ctl("--json", "train-now")
        #expect(full.status == 1, "train-now in full mode: \(full)")
        #expect(full.stderr.contains("full mode"), "\(full)")
        let body = try JSONCoding.decode(APIErrorBody.self, from: full.stdoutBytes)
        #expect(body.error.code == .invalidState)
        #expect(try await s.status().trainNowPending == false)

        try s.openGate(gate)
        try await s.waitForEvent("pipeline_complete")
        #expect(try s.events().of("train_now_trigger").isEmpty)
    }
}
