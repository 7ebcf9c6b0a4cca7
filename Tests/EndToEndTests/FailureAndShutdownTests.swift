import HeidiCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A failing stage puts the pipeline in ERROR until reset; SIGTERM stops a running stage tree completely.
@Suite(.serialized)
struct FailureAndShutdownTests {
    @Test("a failing required stage: ERROR, status exits 1 with the error, reset returns to IDLE once")
    func failingStageAndReset() async throws {
        let s = try Session()
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell(stages: [.validate: "echo boom >&2; exit 3"]))
        try await s.startDaemon()
        #expect(try await s.ctl("start", "--mode", "full", "--rounds", "1").status == 0)
        let failed = try await s.waitForStatus("ERROR") { $0.state == .error }

        let error = try #require(failed.lastError)
        #expect(error.stage == "validate")
        #expect(error.round == 1)
        #expect(error.exitCode == 3)
        #expect(error.message.contains("boom"), "message: \(error.message)")
        let events = try s.events()
        #expect(events.of("pipeline_error").count == 1)
        #expect(events.of("stage_start", stage: "train").isEmpty)

        let human = try await s.ctl("status")
        #expect(human.status == 1, "status in ERROR: \(human)")
        #expect(human.stdout.contains("ERROR"), "\(human)")
        #expect(human.stdout.contains("validate round 1"), "\(human)")

        let reset = try await s.ctl("reset")
        #expect(reset.status == 0, "reset: \(reset)")
        let idle = try await s.status()
        #expect(idle.state == .idle)
        #expect(try await s.ctl("status").status == 0)
        #expect(try s.events().last?.type == "reset")

        let again = try await s.ctl("reset")
        #expect(again.status == 1, "second reset: \(again)")
        #expect(again.stderr.contains("refused"), "\(again)")
    }

    @Test("SIGTERM during a stage: the tree gets its grace, then nothing of it survives; daemon exits 0")
    func sigtermWithRunningStage() async throws {
        let s = try Session()
        defer { s.tearDown() }
        // The stage ignores SIGTERM (inherited by its children) and leaves one child in a session of its own, so
        // only the grace period, SIGKILL and the descendant sweep can end it.
        let stageMarker = "HEIDI_E2E_STAGE=" + s.dir.path
        let stage = "trap '' TERM; setsid sleep 30 & sleep 30 & wait"
        try s.writeConfig(
            TestConfig.shell(
                stages: [.generate: stage],
                stopGrace: "2s",
                stageEnv: ["HEIDI_E2E_STAGE": s.dir.path]
            )
        )
        let daemon = try await s.startDaemon()
        #expect(try await s.ctl("start", "--mode", "full", "--rounds", "1").status == 0)
        let running = try await s.waitForStatus("the generate child") { $0.state == .collecting && $0.child != nil }
        let child = try #require(running.child)
        try await s.waitUntil("the stage's three processes") {
            Processes.withEnvironmentEntry(stageMarker).count == 3 ? true : nil
        }
        #expect(Processes.withEnvironmentEntry(stageMarker).contains(child.pid), "status names the stage leader")
        #expect(child.pgid == child.pid)

        let signalled = Clock.seconds()
        kill(daemon.pid, SIGTERM)
        let exit = await daemon.waitForExit(timeout: Session.patience)
        let elapsed = Clock.seconds() - signalled
        #expect(exit == 0, "heidid exit after SIGTERM; stderr:\n\(daemon.stderrText)")
        #expect(elapsed >= 1.5, "the stage ignores SIGTERM, so it must have had its 2 s grace (took \(elapsed) s)")

        // SIGKILL is delivered asynchronously; a survivor would still be there after this short wait.
        let deadline = Clock.seconds() + 2
        while !Processes.withEnvironmentEntry(stageMarker).isEmpty && Clock.seconds() < deadline {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        #expect(Processes.withEnvironmentEntry(stageMarker).isEmpty, "stage processes survived the daemon")

        let events = try s.events()
        let types = events.map(\.type)
        #expect(types.last == "daemon_stop")
        let lastStageEnd = events.lastIndex { $0.type == "stage_end" && $0.stage == "generate" }
        let stageEnd = try #require(lastStageEnd)
        let pipelineStop = try #require(types.lastIndex(of: "pipeline_stop"))
        #expect(stageEnd < pipelineStop && pipelineStop < types.count - 1, "order: \(types)")
        #expect(events[stageEnd].message.contains("interrupted"), "\(events[stageEnd].message)")
        #expect(!events[stageEnd].message.contains("survived"), "\(events[stageEnd].message)")
    }
}
