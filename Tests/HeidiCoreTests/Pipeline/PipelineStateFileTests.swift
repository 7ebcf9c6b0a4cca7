import HeidiCore
import Testing

/// `state.json` keeps the six status booleans (`paused`, `pause_requested`, `train_now_pending`, `stopping`,
/// `awaiting_train_now`, `stage_active`); the pipeline holds them as three enums. Every state the table test starts
/// from, and every state one input leads to, survives the trip through the file's booleans unchanged.
@Suite("Pipeline state through state.json")
struct PipelineStateFileTests {
    static func file(_ state: PipelineState) -> StateFile {
        let status = StatusSnapshot(
            version: "0.1.0",
            pid: 1,
            startedAt: "s",
            state: state.phase,
            mode: state.mode,
            runID: state.runID,
            round: state.round,
            rounds: state.rounds,
            stage: state.stage?.rawValue,
            paused: state.paused,
            pauseRequested: state.pauseRequested,
            trainNowPending: state.trainNowPending,
            awaitingTrainNow: state.awaitingTrainNow,
            stopping: state.stopping,
            child: nil,
            lastError: state.lastError,
            lastWarning: state.lastWarning,
            journal: JournalHead(path: "/j", seq: 0, head: SHA256.zeroHex),
            supervision: "pgroup",
            updatedAt: "u"
        )
        return StateFile(
            status: status,
            legacyStatus: state.legacyStatus,
            stageActive: state.stageActive,
            runUnitTests: state.runUnitTests,
            allowedFailures: state.allowedFailures
        )
    }

    @Test(arguments: Fixture.allCases, Input.allCases)
    func theFileRestoresTheState(_ fixture: Fixture, _ input: Input) throws {
        for state in [fixture.state, Pipeline.transition(fixture.state, input.value).state] {
            let bytes = try JSONCoding.encode(Self.file(state))
            let restored = try JSONCoding.decode(StateFile.self, from: bytes).pipelineState
            #expect(restored == state)
        }
    }

    @Test func stoppingWithoutAStageInAnOldFileIsStillStopping() {
        var state = PipelineState()
        state.phase = .finalizing
        state.stageRun = .stopping
        var file = Self.file(state)
        file.stageActive = false
        #expect(file.pipelineState.stageRun == .stopping, "recovery ends the run that was stopping")
    }

    @Test("a stage running elsewhere keeps its executor record in state.json; a file without one reads as nil")
    func executorRecordSurvivesTheFile() throws {
        var file = Self.file(PipelineState())
        #expect(!String(decoding: try JSONCoding.encode(file), as: UTF8.self).contains("stage_executor"))
        #expect(try JSONCoding.decode(StateFile.self, from: try JSONCoding.encode(file)).stageExecutor == nil)
        let record = ExecutorRecord(
            executor: "slurm",
            fields: ["job_id": "42", "job_name": "heidi.run_1.r1.generate.a1.x"]
        )
        file.stageExecutor = record
        let bytes = try JSONCoding.encode(file)
        #expect(String(decoding: bytes, as: UTF8.self).contains(#""stage_executor":{"#))
        #expect(try JSONCoding.decode(StateFile.self, from: bytes).stageExecutor == record)
    }

    @Test("the running stage's attempt number survives the file; a file without one reads as nil")
    func stageAttemptSurvivesTheFile() throws {
        var file = Self.file(PipelineState())
        #expect(!String(decoding: try JSONCoding.encode(file), as: UTF8.self).contains("stage_attempt"))
        #expect(try JSONCoding.decode(StateFile.self, from: try JSONCoding.encode(file)).stageAttempt == nil)
        file.stageAttempt = 2
        let bytes = try JSONCoding.encode(file)
        #expect(String(decoding: bytes, as: UTF8.self).contains(#""stage_attempt":2"#))
        #expect(try JSONCoding.decode(StateFile.self, from: bytes).stageAttempt == 2)
    }
}
