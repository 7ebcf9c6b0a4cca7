import HeidiCore
import Testing

/// Drives the machine like the engine does: start stages as effects say, finish them, feed actions.
struct Driver {
    var state = PipelineState()
    var started: [String] = []
    var events: [EventType] = []

    @discardableResult
    mutating func send(_ input: PipelineInput) -> PipelineOutcome {
        let t = Pipeline.transition(state, input)
        state = t.state
        for effect in t.effects {
            switch effect {
            case .startStage(let stage, let round): started.append("\(stage.rawValue)@\(round)")
            case .record(let draft): events.append(draft.type)
            case .terminateStage: break
            }
        }
        return t.outcome
    }

    mutating func finishStage(fail: Bool = false, allowed: Bool = false) {
        let failure = fail ? StageFailure(kind: .exit, message: "exit 1", exitCode: 1, allowed: allowed) : nil
        send(.stageFinished(failure: failure, at: "2026-01-01T00:00:00.000000Z"))
    }

    mutating func runUntilIdleOrError(limit: Int = 100) {
        for _ in 0..<limit where state.stageActive { finishStage() }
    }
}

@Suite("Pipeline scenarios")
struct PipelineScenarioTests {
    @Test func fullModeRunsEveryStageOfEveryRound() {
        var d = Driver()
        #expect(d.send(.start(mode: .full, rounds: 2, runUnitTests: true, runID: "r")).isAccepted)
        d.runUntilIdleOrError()
        #expect(
            d.started == [
                "generate@1", "validate@1", "test@1", "train@1", "eval@1",
                "generate@2", "validate@2", "test@2", "train@2", "eval@2",
            ]
        )
        #expect(d.state.phase == .idle)
        #expect(d.state.legacyStatus == "completed")
        #expect(d.events.last == .pipelineComplete)
    }

    @Test func withoutUnitTestsTheTestStageIsSkipped() {
        var d = Driver()
        d.send(.start(mode: .full, rounds: 1, runUnitTests: false, runID: "r"))
        d.runUntilIdleOrError()
        #expect(d.started == ["generate@1", "validate@1", "train@1", "eval@1"])
    }

    @Test func collectModeWaitsForTrainNowThenContinues() {
        var d = Driver()
        d.send(.start(mode: .collect, rounds: 2, runUnitTests: false, runID: "r"))
        d.runUntilIdleOrError()
        #expect(d.state.phase == .idle && d.state.awaitingTrainNow)
        #expect(d.started == ["generate@1", "validate@1"])
        #expect(d.send(.trainNow) == .accepted("started"))
        #expect(d.state.phase == .finalizing)
        d.runUntilIdleOrError()
        // After train+eval, the run continues with round 2 and waits again.
        #expect(d.started == ["generate@1", "validate@1", "train@1", "eval@1", "generate@2", "validate@2"])
        #expect(d.state.awaitingTrainNow && d.state.round == 2)
        #expect(d.send(.trainNow) == .accepted("started"))
        d.runUntilIdleOrError()
        #expect(d.state.phase == .idle && !d.state.awaitingTrainNow)
        #expect(d.events.last == .pipelineComplete)
    }

    @Test func queuedTrainNowTrainsInsteadOfGoingIdle() {
        var d = Driver()
        d.send(.start(mode: .collect, rounds: 1, runUnitTests: false, runID: "r"))
        #expect(d.send(.trainNow) == .accepted("queued"))
        #expect(d.state.trainNowPending)
        d.runUntilIdleOrError()
        #expect(d.started == ["generate@1", "validate@1", "train@1", "eval@1"])
        #expect(d.state.phase == .idle && !d.state.trainNowPending)
        #expect(d.events.last == .pipelineComplete)
    }

    @Test func trainNowRefusals() {
        var d = Driver()
        if case .refused(let why) = d.send(.trainNow) {
            #expect(why.contains("no run"))
        } else {
            Issue.record("accepted idle train-now")
        }
        d.send(.start(mode: .full, rounds: 1, runUnitTests: false, runID: "r"))
        if case .refused(let why) = d.send(.trainNow) {
            #expect(why.contains("collect mode only"))
        } else {
            Issue.record("full mode")
        }
        var c = Driver()
        c.send(.start(mode: .collect, rounds: 1, runUnitTests: false, runID: "r"))
        c.send(.trainNow)
        c.finishStage()
        c.finishStage()
        #expect(c.state.phase == .finalizing)
        if case .refused(let why) = c.send(.trainNow) {
            #expect(why.contains("already training"))
        } else {
            Issue.record("training")
        }
        c.finishStage(fail: true)  // train fails
        #expect(c.state.phase == .error)
        if case .refused(let why) = c.send(.trainNow) { #expect(why.contains("ERROR")) } else { Issue.record("error") }
    }

    @Test func pauseTakesEffectAtTheNextBoundaryAndResumeContinues() {
        var d = Driver()
        d.send(.start(mode: .full, rounds: 1, runUnitTests: false, runID: "r"))
        #expect(d.send(.pause).isAccepted)
        #expect(d.state.pauseRequested && !d.state.paused)
        d.finishStage()
        #expect(d.state.phase == .validating && d.state.paused && !d.state.stageActive)
        #expect(d.state.legacyStatus == "paused")
        #expect(d.started == ["generate@1"])
        #expect(!d.send(.pause).isAccepted)
        #expect(d.send(.resume).isAccepted)
        #expect(d.started == ["generate@1", "validate@1"])
        #expect(!d.send(.resume).isAccepted)
    }

    /// heidi.compat.Core's tick(): a run started paused holds before generate; each step runs exactly one stage,
    /// even when the stage ends within the same transition (mocked), and holds at the next boundary.
    @Test func startPausedThenStepRunsOneStageAtATime() {
        var d = Driver()
        #expect(d.send(.start(mode: .full, rounds: 1, runUnitTests: false, runID: "r", paused: true)).isAccepted)
        #expect(d.state.phase == .collecting && d.state.paused && !d.state.stageActive)
        #expect(d.started.isEmpty)
        #expect(d.events == [.pipelineStart, .roundStart, .paused])
        #expect(d.send(.step).isAccepted)
        #expect(d.started == ["generate@1"] && d.state.pauseRequested)
        d.finishStage()
        #expect(d.state.phase == .validating && d.state.paused && d.started == ["generate@1"])
        #expect(d.send(.step).isAccepted)
        d.finishStage()
        #expect(d.state.phase == .finalizing && d.state.paused)
        #expect(d.send(.step).isAccepted)
        d.finishStage()
        #expect(d.state.phase == .evaluating && d.state.paused)
        #expect(d.send(.step).isAccepted)
        d.finishStage()
        #expect(d.state.phase == .idle && !d.state.paused && !d.state.pauseRequested)
        #expect(d.events.last == .pipelineComplete)
        #expect(!d.send(.step).isAccepted)
        // resume after a step withdraws its pause request: the run goes on freely.
        var e = Driver()
        e.send(.start(mode: .full, rounds: 1, runUnitTests: false, runID: "r", paused: true))
        e.send(.step)
        #expect(e.send(.resume).isAccepted)
        e.runUntilIdleOrError()
        #expect(e.state.phase == .idle && e.started.count == 4)
    }

    @Test func evalFailureIsAllowedButOtherFailuresAreFatal() {
        var d = Driver()
        d.send(.start(mode: .full, rounds: 1, runUnitTests: false, runID: "r"))
        d.finishStage()
        d.finishStage()
        d.finishStage()
        #expect(d.state.phase == .evaluating)
        d.finishStage(fail: true, allowed: true)
        #expect(d.state.phase == .idle)
        #expect(d.events.last == .pipelineComplete)

        var e = Driver()
        e.send(.start(mode: .full, rounds: 1, runUnitTests: false, runID: "r"))
        e.finishStage(fail: true)
        #expect(e.state.phase == .error)
        #expect(e.state.lastError?.stage == "generate")
        #expect(e.state.lastError?.exitCode == 1)
        #expect(e.send(.reset).isAccepted)
        #expect(e.state.phase == .idle && e.state.lastError == nil)
    }

    @Test func stopDuringAStageEndsTheRunOnceTheChildIsGone() {
        var d = Driver()
        d.send(.start(mode: .full, rounds: 3, runUnitTests: false, runID: "r"))
        #expect(d.send(.stop).isAccepted)
        #expect(d.state.stopping && d.state.phase == .collecting)
        #expect(!d.send(.stop).isAccepted, "a second stop is refused while stopping")
        d.finishStage(fail: true)  // killed by SIGTERM
        #expect(d.state.phase == .idle && !d.state.stopping)
        #expect(d.state.legacyStatus == "stopped")
        #expect(d.events.last == .pipelineStop)
        #expect(d.send(.start(mode: .full, rounds: 1, runUnitTests: false, runID: "r2")).isAccepted)
    }

    @Test func startIsRefusedWhileARunIsActive() {
        var d = Driver()
        d.send(.start(mode: .full, rounds: 1, runUnitTests: false, runID: "r"))
        guard case .refused(let why) = d.send(.start(mode: .full, rounds: 1, runUnitTests: false, runID: "r2")) else {
            Issue.record("second start accepted")
            return
        }
        #expect(why.contains("a run is active"))
        var fresh = Driver()
        #expect(!fresh.send(.start(mode: .full, rounds: 0, runUnitTests: false, runID: "r")).isAccepted)
    }

    @Test func startRefusesToDropACollectedRoundUnlessToldToDiscardIt() {
        var d = Driver()
        d.send(.start(mode: .collect, rounds: 2, runUnitTests: false, runID: "r1"))
        d.runUntilIdleOrError()
        #expect(d.send(.trainNow) == .accepted("started"))
        d.runUntilIdleOrError()
        #expect(d.state.phase == .idle && d.state.awaitingTrainNow && d.state.round == 2, "round 2 of 2 collected")
        let waiting = d.state
        guard case .refused(let why) = d.send(.start(mode: .full, rounds: 1, runUnitTests: false, runID: "r2")) else {
            Issue.record("a start dropped the collected round")
            return
        }
        #expect(why.contains("round 2/2 of run r1 is collected") && why.contains("--discard"), "\(why)")
        #expect(d.state == waiting)
        let t = Pipeline.transition(
            d.state,
            .start(mode: .full, rounds: 1, runUnitTests: false, runID: "r2", discard: true)
        )
        #expect(t.outcome.isAccepted && t.state.runID == "r2" && !t.state.awaitingTrainNow)
        let drafts = t.effects.compactMap { effect -> EventDraft? in
            if case .record(let d) = effect { return d }
            return nil
        }
        #expect(drafts.map(\.type) == [.pipelineStop, .pipelineStart, .roundStart])
        let stop = drafts.first
        #expect(stop?.level == .warn && stop?.runID == "r1", "the discarded run's own event")
        #expect(
            stop?.message.contains("round 2/2 of run r1") == true && stop?.message.contains("discarded") == true,
            "\(stop?.message ?? "")"
        )
    }

    @Test func allowedFailuresAreCountedShownAndMakeTheCompletionAWarning() {
        var d = Driver()
        d.send(.start(mode: .full, rounds: 2, runUnitTests: false, runID: "r"))
        var last: Transition?
        while d.state.stageActive {
            let failing = d.state.stage == .eval
            let failure =
                failing
                ? StageFailure(kind: .exit, message: "exit 4 in round \(d.state.round)", exitCode: 4, allowed: true)
                : nil
            last = Pipeline.transition(d.state, .stageFinished(failure: failure, at: "t\(d.state.round)"))
            d.send(.stageFinished(failure: failure, at: "t\(d.state.round)"))
            if failing && d.state.phase != .idle {
                #expect(
                    d.state.phase == .collecting && d.state.lastError == nil,
                    "an allowed failure never enters ERROR"
                )
                #expect(d.state.lastWarning?.message == "exit 4 in round 1")
            }
        }
        #expect(d.state.phase == .idle && d.state.allowedFailures == 2)
        #expect(
            d.state.lastWarning
                == PipelineFailure(
                    stage: "eval",
                    round: 2,
                    message: "exit 4 in round 2",
                    exitCode: 4,
                    signal: nil,
                    at: "t2"
                )
        )
        let complete = last?.effects.compactMap { effect -> EventDraft? in
            if case .record(let draft) = effect, draft.type == .pipelineComplete { return draft }
            return nil
        }.first
        #expect(complete?.level == .warn)
        #expect(
            complete?.message.contains("2 allowed stage failures") == true
                && complete?.message.contains("eval of round 2") == true,
            "\(complete?.message ?? "")"
        )
        // A new run starts clean.
        d.send(.start(mode: .full, rounds: 1, runUnitTests: false, runID: "r2"))
        #expect(d.state.lastWarning == nil && d.state.allowedFailures == 0)
    }

    @Test func recoveryResumesTheInterruptedStageOrGoesIdle() {
        var persisted = PipelineState()
        persisted.phase = .finalizing
        persisted.stageRun = .running
        persisted.runID = "r"
        persisted.round = 2
        persisted.rounds = 3
        let resumed = Pipeline.recover(persisted, resume: true)
        #expect(resumed.effects.contains(.startStage(.train, round: 2)))
        #expect(resumed.state.phase == .finalizing && resumed.state.stageActive)
        #expect(
            resumed.effects.contains {
                if case .record(let d) = $0 { return d.type == .runRecovered }
                return false
            }
        )

        let idle = Pipeline.recover(persisted, resume: false)
        #expect(idle.state.phase == .idle && !idle.state.stageActive)
        #expect(
            !idle.effects.contains {
                if case .startStage = $0 { return true }
                return false
            }
        )

        var error = PipelineState()
        error.phase = .error
        error.lastError = PipelineFailure(stage: "eval", round: 1, message: "m", exitCode: 1, signal: nil, at: "t")
        #expect(Pipeline.recover(error, resume: true).state == error, "ERROR survives restarts")
    }
}
