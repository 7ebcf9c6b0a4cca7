/// The pure pipeline state machine (SPEC §2): `transition(state, input)` returns the next state, the effects the
/// engine must carry out, and whether the input was accepted. No I/O, no clocks, no threads.
public enum Pipeline {
    public static func transition(_ state: PipelineState, _ input: PipelineInput) -> Transition {
        var machine = Machine(state: state)
        let outcome = machine.apply(input)
        if case .refused = outcome { return Transition(state: state, effects: [], outcome: outcome) }
        return Transition(state: machine.state, effects: machine.effects, outcome: outcome)
    }

    /// Restart recovery: `persisted` is the state a previous daemon left. A run that had a child running either
    /// re-runs the interrupted stage (`resume`) or goes IDLE; ERROR and paused runs are kept as they were. `note`
    /// (what was found and killed of the interrupted stage) is added to the `run_recovered` message.
    public static func recover(_ persisted: PipelineState, resume: Bool, note: String? = nil) -> Transition {
        var machine = Machine(state: persisted)
        let hadChild = persisted.stageActive
        machine.state.stageRun = .none
        guard persisted.phase.isRunning, hadChild || persisted.stopping else {
            return Transition(state: machine.state, effects: [], outcome: .accepted(nil))
        }
        let stageName = persisted.stage?.rawValue ?? "?"
        let found = note.map { " (\($0))" } ?? ""
        if resume && !persisted.stopping {
            machine.record(
                .runRecovered,
                level: .warn,
                "daemon restarted during \(stageName) of round \(persisted.round)\(found); re-running \(stageName)"
            )
            if machine.state.hold == .requested { machine.state.hold = .none }
            machine.enter(persisted.phase)
        } else {
            machine.record(
                .runRecovered,
                level: .warn,
                "daemon restarted during \(stageName) of round \(persisted.round)\(found); run ended (recovery: idle)"
            )
            machine.endRun(as: .stopped)
        }
        return Transition(state: machine.state, effects: machine.effects, outcome: .accepted(nil))
    }
}

/// The mutable working copy used while computing one transition.
private struct Machine {
    var state: PipelineState
    var effects: [PipelineEffect] = []

    /// Records an event about the current stage; run- and round-level events (`stageless`) carry no stage.
    mutating func record(_ type: EventType, level: EventLevel = .info, stageless: Bool = false, _ message: String) {
        effects.append(
            .record(
                EventDraft(
                    type,
                    level: level,
                    message: message,
                    runID: state.runID,
                    round: state.round,
                    stage: stageless ? nil : state.stage?.rawValue
                )
            )
        )
    }

    mutating func apply(_ input: PipelineInput) -> PipelineOutcome {
        switch input {
        case let .start(mode, rounds, runUnitTests, runID, paused, discard):
            return start(mode, rounds, runUnitTests, runID, paused: paused, discard: discard)
        case let .stageFinished(failure, at): return stageFinished(failure, at: at)
        case .stop: return stop()
        case .trainNow: return trainNow()
        case .pause: return pause()
        case .resume: return resume()
        case .step: return step()
        case .reset: return reset()
        }
    }

    // MARK: Runs and rounds

    /// A collected round waiting for train-now is part of a run too: a start would drop it, so it is refused unless
    /// `discard` says to drop it, and then the journal says what was dropped.
    mutating func start(
        _ mode: PipelineMode,
        _ rounds: Int,
        _ runUnitTests: Bool,
        _ runID: String,
        paused: Bool,
        discard: Bool
    ) -> PipelineOutcome {
        guard !state.runActive else {
            return .refused("a run is active (\(state.phase.rawValue), run \(state.runID ?? "?")); stop it first")
        }
        guard rounds >= 1 else { return .refused("rounds must be at least 1") }
        if state.awaitingTrainNow {
            let collected =
                "round \(state.round)/\(state.rounds) of run \(state.runID ?? "?") is collected and waits for train-now"
            guard discard else {
                return .refused(
                    "\(collected); train it (train-now), stop the run, or start with discard (heidictl start --discard) to drop it"
                )
            }
            record(
                .pipelineStop,
                level: .warn,
                stageless: true,
                "run \(state.runID ?? "?") stopped by start with discard: \(collected), discarded untrained"
            )
        }
        var next = PipelineState()
        next.mode = mode
        next.rounds = rounds
        next.runUnitTests = runUnitTests
        next.runID = runID
        next.round = 1
        next.hold = paused ? .requested : .none
        state = next
        record(
            .pipelineStart,
            stageless: true,
            "run \(runID) started: mode \(mode.rawValue), \(rounds) round\(rounds == 1 ? "" : "s")"
        )
        record(.roundStart, stageless: true, "round 1/\(rounds) started")
        enter(.collecting)
        return .accepted(nil)
    }

    /// Moves to `phase` and starts its stage, unless a pause was requested: then the run holds at this boundary.
    mutating func enter(_ phase: PipelinePhase) {
        state.phase = phase
        state.stageRun = .none
        guard let stage = phase.stage else { return }
        if state.hold == .requested {
            state.hold = .paused
            record(.paused, "paused before \(stage.rawValue) of round \(state.round)")
            return
        }
        state.stageRun = .running
        effects.append(.startStage(stage, round: state.round))
    }

    mutating func endRun(as ending: RunEnding) {
        state.phase = .idle
        state.stageRun = .none
        state.hold = .none
        state.trainNow = .none
        state.lastRunEnding = ending
    }

    mutating func stageFinished(_ failure: StageFailure?, at: String) -> PipelineOutcome {
        guard state.stageActive, let stage = state.stage else { return .refused("no stage is running") }
        let stopped = state.stopping
        state.stageRun = .none
        if stopped {
            record(.pipelineStop, "run stopped during \(stage.rawValue) of round \(state.round); stage interrupted")
            endRun(as: .stopped)
            return .accepted(nil)
        }
        if let failure, !failure.allowed {
            state.phase = .error
            state.hold = .none
            state.trainNow = .none
            state.lastError = PipelineFailure(
                stage: stage.rawValue,
                round: state.round,
                message: failure.message,
                exitCode: failure.exitCode,
                signal: failure.signal,
                at: at
            )
            effects.append(
                .record(
                    EventDraft(
                        .pipelineError,
                        level: .error,
                        message: "\(stage.rawValue) failed: \(failure.message)",
                        runID: state.runID,
                        round: state.round,
                        stage: stage.rawValue
                    )
                )
            )
            return .accepted(nil)
        }
        if let failure {
            // Allowed (eval by default): the run goes on, but the failure stays visible in status and the completion.
            state.allowedFailures += 1
            state.lastWarning = PipelineFailure(
                stage: stage.rawValue,
                round: state.round,
                message: failure.message,
                exitCode: failure.exitCode,
                signal: failure.signal,
                at: at
            )
        }
        advance(after: stage)
        return .accepted(nil)
    }

    mutating func advance(after stage: Stage) {
        switch stage {
        case .generate: enter(.validating)
        case .validate: state.runUnitTests ? enter(.testing) : collected()
        case .test: collected()
        case .train: enter(.evaluating)
        case .eval: roundEnded()
        }
    }

    /// validate/test are done: full mode (or a queued train-now) trains; collect mode waits in IDLE.
    mutating func collected() {
        if state.mode == .full {
            enter(.finalizing)
        } else if state.trainNowPending {
            state.trainNow = .none
            record(.trainNowTrigger, "train-now (queued) starts training round \(state.round)")
            enter(.finalizing)
        } else {
            state.phase = .idle
            state.trainNow = .awaited
            state.lastRunEnding = nil
            record(.roundCollected, "round \(state.round)/\(state.rounds) collected; waiting for train-now")
        }
    }

    mutating func roundEnded() {
        if state.round < state.rounds {
            state.round += 1
            record(.roundStart, stageless: true, "round \(state.round)/\(state.rounds) started")
            enter(.collecting)
        } else {
            state.phase = .idle
            var message = "run \(state.runID ?? "?") complete: \(state.rounds) round\(state.rounds == 1 ? "" : "s")"
            let failures = state.allowedFailures
            if failures > 0, let last = state.lastWarning {
                message +=
                    "; \(failures) allowed stage failure\(failures == 1 ? "" : "s"), the last: \(last.stage ?? "?") of round "
                    + "\(last.round): \(last.message)"
            }
            record(.pipelineComplete, level: failures > 0 ? .warn : .info, message)
            endRun(as: .completed)
        }
    }

    // MARK: Operator actions

    mutating func stop() -> PipelineOutcome {
        if state.stopping { return .refused("already stopping") }
        if state.stageActive {
            state.stageRun = .stopping
            effects.append(.terminateStage)
            return .accepted(nil)
        }
        if state.phase.isRunning || state.awaitingTrainNow {
            let reason = state.awaitingTrainNow ? "while waiting for train-now" : "while paused"
            record(.pipelineStop, "run stopped \(reason)")
            endRun(as: .stopped)
            return .accepted(nil)
        }
        return .refused(state.phase == .error ? "the pipeline is in ERROR; use reset" : "no run is active")
    }

    mutating func trainNow() -> PipelineOutcome {
        if state.phase == .error { return .refused("the pipeline is in ERROR; reset or start a new run first") }
        if state.runID == nil || (!state.runActive && !state.awaitingTrainNow) {
            return .refused("no run is active; start one with mode collect")
        }
        if state.mode != .collect {
            return .refused("train-now applies to collect mode only; this run is in full mode")
        }
        switch state.phase {
        case .idle:
            state.trainNow = .none
            state.lastRunEnding = nil
            record(.trainNowTrigger, "train-now starts training round \(state.round)")
            enter(.finalizing)
            return .accepted("started")
        case .collecting, .validating, .testing:
            if state.stopping { return .refused("the run is stopping") }
            if !state.trainNowPending {
                state.trainNow = .queued
                record(
                    .trainNowTrigger,
                    "train-now queued: round \(state.round) trains after \(state.stage?.rawValue ?? "collection")"
                )
            }
            return .accepted("queued")
        case .finalizing, .evaluating:
            return .refused("already training (\(state.phase.rawValue))")
        case .error:
            return .refused("the pipeline is in ERROR")
        }
    }

    mutating func pause() -> PipelineOutcome {
        guard state.phase.isRunning else { return .refused("no run is active") }
        if state.paused { return .refused("already paused") }
        if state.pauseRequested { return .refused("pause already requested") }
        if state.stopping { return .refused("the run is stopping") }
        state.hold = .requested
        return .accepted("pause takes effect when \(state.stage?.rawValue ?? "the stage") finishes")
    }

    mutating func resume() -> PipelineOutcome {
        if state.pauseRequested {
            state.hold = .none
            record(.resumed, "pause request withdrawn")
            return .accepted(nil)
        }
        guard state.paused, let phase = Optional(state.phase), phase.isRunning else { return .refused("not paused") }
        state.hold = .none
        record(.resumed, "resumed: starting \(phase.stage?.rawValue ?? "?") of round \(state.round)")
        enter(phase)
        return .accepted(nil)
    }

    /// `resume` for one stage: the stage starts with a pause already requested, so the run holds again at the
    /// next boundary (or ends: IDLE, ERROR). Atomic, so even a mocked stage, which ends at once, is held after.
    mutating func step() -> PipelineOutcome {
        guard state.paused, state.phase.isRunning else { return .refused("not paused") }
        let outcome = resume()
        state.hold = .requested
        return outcome
    }

    mutating func reset() -> PipelineOutcome {
        guard state.phase == .error else {
            return .refused("reset applies only in ERROR (state is \(state.phase.rawValue))")
        }
        record(.reset, "reset from ERROR (\(state.lastError?.message ?? "no recorded error"))")
        state = PipelineState()
        return .accepted(nil)
    }
}
