import HeidiCore
import Testing

/// Named pipeline states used as rows of the transition table.
enum Fixture: String, CaseIterable, CustomTestStringConvertible {
    case idleFresh, collecting, validating, testing, finalizing, evaluating, error
    case collectCollecting, collectValidating, collectTesting, collectAwaiting, collectQueued, collectTraining
    case pausedBeforeValidate, pauseRequested, stopping, lastRoundEval

    var testDescription: String { rawValue }

    var state: PipelineState {
        var s = PipelineState()
        s.runID = "run_1"
        s.round = 1
        s.rounds = 2
        s.mode = .full
        s.runUnitTests = true
        func running(_ phase: PipelinePhase) {
            s.phase = phase
            s.stageRun = .running
        }
        switch self {
        case .idleFresh: s = PipelineState()
        case .collecting: running(.collecting)
        case .validating: running(.validating)
        case .testing: running(.testing)
        case .finalizing: running(.finalizing)
        case .evaluating: running(.evaluating)
        case .lastRoundEval:
            running(.evaluating)
            s.round = 2
        case .error:
            s.phase = .error
            s.lastError = PipelineFailure(
                stage: "train",
                round: 1,
                message: "exit 1",
                exitCode: 1,
                signal: nil,
                at: "t"
            )
        case .collectCollecting:
            s.mode = .collect
            running(.collecting)
        case .collectValidating:
            s.mode = .collect
            running(.validating)
        case .collectTesting:
            s.mode = .collect
            running(.testing)
        case .collectAwaiting:
            s.mode = .collect
            s.phase = .idle
            s.trainNow = .awaited
        case .collectQueued:
            s.mode = .collect
            running(.validating)
            s.trainNow = .queued
        case .collectTraining:
            s.mode = .collect
            running(.finalizing)
        case .pausedBeforeValidate:
            s.phase = .validating
            s.hold = .paused
        case .pauseRequested:
            running(.collecting)
            s.hold = .requested
        case .stopping:
            running(.finalizing)
            s.stageRun = .stopping
        }
        return s
    }
}

/// The inputs of the table (stage outcomes plus every operator action).
enum Input: String, CaseIterable, CustomTestStringConvertible {
    case start, startDiscarding, ok, fail, failAllowed, stop, trainNow, pause, resume, step, reset

    var testDescription: String { rawValue }

    var value: PipelineInput {
        switch self {
        case .start: return .start(mode: .full, rounds: 2, runUnitTests: false, runID: "run_2")
        case .startDiscarding: return .start(mode: .full, rounds: 2, runUnitTests: false, runID: "run_2", discard: true)
        case .ok: return .stageFinished(failure: nil, at: "t")
        case .fail: return .stageFinished(failure: StageFailure(kind: .exit, message: "exit 3", exitCode: 3), at: "t")
        case .failAllowed:
            return .stageFinished(
                failure: StageFailure(kind: .exit, message: "exit 1", exitCode: 1, allowed: true),
                at: "t"
            )
        case .stop: return .stop
        case .trainNow: return .trainNow
        case .pause: return .pause
        case .resume: return .resume
        case .step: return .step
        case .reset: return .reset
        }
    }
}

/// What a row expects: the next phase (nil = refused, state unchanged), the stage started, an event type recorded
/// (at `level`, when given).
struct Expectation {
    var phase: PipelinePhase?
    var starts: Stage? = nil
    var records: EventType? = nil
    var outcome: String? = nil
    var level: EventLevel? = nil
}

/// The exhaustive table: every fixture × every input. Rows not listed must be refused without any change.
let table: [Fixture: [Input: Expectation]] = [
    .idleFresh: [
        .start: Expectation(phase: .collecting, starts: .generate, records: .pipelineStart),
        .startDiscarding: Expectation(phase: .collecting, starts: .generate, records: .pipelineStart),
    ],
    .collecting: [
        .ok: Expectation(phase: .validating, starts: .validate),
        .fail: Expectation(phase: .error, records: .pipelineError),
        .failAllowed: Expectation(phase: .validating, starts: .validate),
        .stop: Expectation(phase: .collecting),
        .pause: Expectation(phase: .collecting, outcome: "pause takes effect when generate finishes"),
    ],
    .validating: [
        .ok: Expectation(phase: .testing, starts: .test),
        .fail: Expectation(phase: .error, records: .pipelineError),
        .failAllowed: Expectation(phase: .testing, starts: .test),
        .stop: Expectation(phase: .validating),
        .pause: Expectation(phase: .validating, outcome: "pause takes effect when validate finishes"),
    ],
    .testing: [
        .ok: Expectation(phase: .finalizing, starts: .train),
        .fail: Expectation(phase: .error, records: .pipelineError),
        .failAllowed: Expectation(phase: .finalizing, starts: .train),
        .stop: Expectation(phase: .testing),
        .pause: Expectation(phase: .testing, outcome: "pause takes effect when test finishes"),
    ],
    .finalizing: [
        .ok: Expectation(phase: .evaluating, starts: .eval),
        .fail: Expectation(phase: .error, records: .pipelineError),
        .failAllowed: Expectation(phase: .evaluating, starts: .eval),
        .stop: Expectation(phase: .finalizing),
        .pause: Expectation(phase: .finalizing, outcome: "pause takes effect when train finishes"),
    ],
    .evaluating: [
        .ok: Expectation(phase: .collecting, starts: .generate, records: .roundStart),
        .fail: Expectation(phase: .error, records: .pipelineError),
        .failAllowed: Expectation(phase: .collecting, starts: .generate, records: .roundStart),
        .stop: Expectation(phase: .evaluating),
        .pause: Expectation(phase: .evaluating, outcome: "pause takes effect when eval finishes"),
    ],
    .lastRoundEval: [
        .ok: Expectation(phase: .idle, records: .pipelineComplete, level: .info),
        .fail: Expectation(phase: .error, records: .pipelineError),
        // Allowed failures are not silent: the completion is a warning (with the count, see the scenarios).
        .failAllowed: Expectation(phase: .idle, records: .pipelineComplete, level: .warn),
        .stop: Expectation(phase: .evaluating),
        .pause: Expectation(phase: .evaluating, outcome: "pause takes effect when eval finishes"),
    ],
    .error: [
        .start: Expectation(phase: .collecting, starts: .generate, records: .pipelineStart),
        .startDiscarding: Expectation(phase: .collecting, starts: .generate, records: .pipelineStart),
        .reset: Expectation(phase: .idle, records: .reset),
    ],
    .collectCollecting: [
        .ok: Expectation(phase: .validating, starts: .validate),
        .fail: Expectation(phase: .error, records: .pipelineError),
        .failAllowed: Expectation(phase: .validating, starts: .validate),
        .stop: Expectation(phase: .collecting),
        .pause: Expectation(phase: .collecting, outcome: "pause takes effect when generate finishes"),
        .trainNow: Expectation(phase: .collecting, records: .trainNowTrigger, outcome: "queued"),
    ],
    .collectValidating: [
        .ok: Expectation(phase: .testing, starts: .test),
        .fail: Expectation(phase: .error, records: .pipelineError),
        .failAllowed: Expectation(phase: .testing, starts: .test),
        .stop: Expectation(phase: .validating),
        .pause: Expectation(phase: .validating, outcome: "pause takes effect when validate finishes"),
        .trainNow: Expectation(phase: .validating, records: .trainNowTrigger, outcome: "queued"),
    ],
    .collectTesting: [
        .ok: Expectation(phase: .idle, records: .roundCollected),
        .fail: Expectation(phase: .error, records: .pipelineError),
        .failAllowed: Expectation(phase: .idle, records: .roundCollected),
        .stop: Expectation(phase: .testing),
        .pause: Expectation(phase: .testing, outcome: "pause takes effect when test finishes"),
        .trainNow: Expectation(phase: .testing, records: .trainNowTrigger, outcome: "queued"),
    ],
    .collectAwaiting: [
        // A plain start would drop the collected round: refused (not listed); with discard, the drop is journaled.
        .startDiscarding: Expectation(phase: .collecting, starts: .generate, records: .pipelineStop, level: .warn),
        .trainNow: Expectation(phase: .finalizing, starts: .train, records: .trainNowTrigger, outcome: "started"),
        .stop: Expectation(phase: .idle, records: .pipelineStop),
    ],
    .collectQueued: [
        .ok: Expectation(phase: .testing, starts: .test),
        .fail: Expectation(phase: .error, records: .pipelineError),
        .failAllowed: Expectation(phase: .testing, starts: .test),
        .stop: Expectation(phase: .validating),
        .pause: Expectation(phase: .validating, outcome: "pause takes effect when validate finishes"),
        .trainNow: Expectation(phase: .validating, outcome: "queued"),
    ],
    .collectTraining: [
        .ok: Expectation(phase: .evaluating, starts: .eval),
        .fail: Expectation(phase: .error, records: .pipelineError),
        .failAllowed: Expectation(phase: .evaluating, starts: .eval),
        .stop: Expectation(phase: .finalizing),
        .pause: Expectation(phase: .finalizing, outcome: "pause takes effect when train finishes"),
    ],
    .pausedBeforeValidate: [
        .resume: Expectation(phase: .validating, starts: .validate, records: .resumed),
        .step: Expectation(phase: .validating, starts: .validate, records: .resumed),
        .stop: Expectation(phase: .idle, records: .pipelineStop),
    ],
    .pauseRequested: [
        .ok: Expectation(phase: .validating, records: .paused),
        .fail: Expectation(phase: .error, records: .pipelineError),
        .failAllowed: Expectation(phase: .validating, records: .paused),
        .stop: Expectation(phase: .collecting),
        .resume: Expectation(phase: .collecting, records: .resumed),
    ],
    .stopping: [
        .ok: Expectation(phase: .idle, records: .pipelineStop),
        .fail: Expectation(phase: .idle, records: .pipelineStop),
        .failAllowed: Expectation(phase: .idle, records: .pipelineStop),
    ],
]

@Suite("Pipeline transition table")
struct PipelineTableTests {
    static let cases = Fixture.allCases.flatMap { f in Input.allCases.map { (f, $0) } }

    @Test("every state × every input", arguments: cases)
    func row(_ fixture: Fixture, _ input: Input) {
        let before = fixture.state
        let transition = Pipeline.transition(before, input.value)
        guard let expected = table[fixture]?[input] else {
            guard case .refused(let reason) = transition.outcome else {
                Issue.record(
                    "\(fixture) + \(input) should be refused, got \(transition.outcome) → \(transition.state.phase)"
                )
                return
            }
            #expect(!reason.isEmpty)
            #expect(transition.state == before, "a refused input must not change the state")
            #expect(transition.effects.isEmpty, "a refused input must not have effects")
            return
        }
        #expect(transition.outcome.isAccepted, "\(fixture) + \(input) should be accepted: \(transition.outcome)")
        #expect(transition.state.phase == expected.phase)
        let started = transition.effects.compactMap { effect -> Stage? in
            if case .startStage(let stage, _) = effect { return stage }
            return nil
        }
        #expect(started == (expected.starts.map { [$0] } ?? []), "stages started")
        if let event = expected.records {
            let recorded = transition.effects.compactMap { effect -> EventDraft? in
                if case .record(let draft) = effect, draft.type == event { return draft }
                return nil
            }
            #expect(!recorded.isEmpty, "expected a \(event.rawValue) event in \(transition.effects)")
            if let level = expected.level { #expect(recorded.allSatisfy { $0.level == level }, "\(recorded)") }
        }
        if let outcome = expected.outcome { #expect(transition.outcome == .accepted(outcome)) }
        // Invariants every accepted transition keeps.
        let s = transition.state
        #expect(!(s.stageActive && !s.phase.isRunning), "a child can only run in a running phase")
        #expect(!(s.paused && s.stageActive), "paused means no child")
        #expect(s.stageActive == (started.count == 1) || (before.stageActive && s.stageActive && started.isEmpty))
        if input == .stop, before.stageActive, !before.stopping {
            #expect(transition.effects == [.terminateStage])
            #expect(s.stopping)
        }
    }
}
