/// How rounds end: `full` trains and evaluates every round; `collect` stops after validate/test and waits for train-now.
public enum PipelineMode: String, Sendable, Codable, CaseIterable {
    case full, collect
}

/// The pipeline's stages, in round order.
public enum Stage: String, Sendable, Codable, CaseIterable, Comparable {
    case generate, validate, test, train, eval

    public static func < (lhs: Stage, rhs: Stage) -> Bool {
        lhs.order < rhs.order
    }

    private var order: Int {
        switch self {
        case .generate: return 0
        case .validate: return 1
        case .test: return 2
        case .train: return 3
        case .eval: return 4
        }
    }
}

/// The pipeline state as reported to users (the strings are part of the contract).
public enum PipelinePhase: String, Sendable, Codable, CaseIterable {
    case idle = "IDLE"
    case collecting = "COLLECTING"
    case validating = "VALIDATING"
    case testing = "TESTING"
    case finalizing = "FINALIZING"
    case evaluating = "EVALUATING"
    case error = "ERROR"

    /// The stage a running phase executes.
    public var stage: Stage? {
        switch self {
        case .collecting: return .generate
        case .validating: return .validate
        case .testing: return .test
        case .finalizing: return .train
        case .evaluating: return .eval
        case .idle, .error: return nil
        }
    }

    public init(stage: Stage) {
        switch stage {
        case .generate: self = .collecting
        case .validate: self = .validating
        case .test: self = .testing
        case .train: self = .finalizing
        case .eval: self = .evaluating
        }
    }

    public var isRunning: Bool { stage != nil }
}

/// Why a stage did not succeed.
public struct StageFailure: Sendable, Equatable {
    /// The failure's category, derived from the attempt's `StageEnding` (`StageEnding.failureKind`).
    public enum Kind: String, Sendable, Equatable {
        /// Exited by itself with a non-zero code, or killed by a signal heidid did not send.
        case exit, signal
        /// Exceeded its time limit, or its watchdog.
        case timeout
        /// Never started.
        case spawn
        /// Killed for exceeding its memory limit (a batch scheduler's `OUT_OF_MEMORY`).
        case outOfMemory
        /// Lost with its node, preempted, or of unknown fate (a batch scheduler's job).
        case lost
    }

    public var kind: Kind
    public var message: String
    public var exitCode: Int?
    public var signal: Int?
    /// The stage's failure is tolerated (`allow_failure`, eval by default): the run continues.
    public var allowed: Bool

    public init(kind: Kind, message: String, exitCode: Int? = nil, signal: Int? = nil, allowed: Bool = false) {
        self.kind = kind
        self.message = message
        self.exitCode = exitCode
        self.signal = signal
        self.allowed = allowed
    }

    /// A stage that could not start (`StageEnding.spawnFailed`): `message` says why.
    public init(spawn message: String, allowed: Bool) {
        self.init(kind: .spawn, message: message, allowed: allowed)
    }
}

/// A stage failure: the last one that put the pipeline into ERROR (`last_error`), or the last one a run was allowed
/// to go on after (`last_warning`).
public struct PipelineFailure: Sendable, Equatable, Codable {
    public var stage: String?
    public var round: Int
    public var message: String
    public var exitCode: Int?
    public var signal: Int?
    public var at: String

    public init(stage: String?, round: Int, message: String, exitCode: Int?, signal: Int?, at: String) {
        self.stage = stage
        self.round = round
        self.message = message
        self.exitCode = exitCode
        self.signal = signal
        self.at = at
    }

    enum CodingKeys: String, CodingKey {
        case stage, round, message
        case exitCode = "exit_code"
        case signal, at
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(stage, forKey: .stage)
        try c.encode(round, forKey: .round)
        try c.encode(message, forKey: .message)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(signal, forKey: .signal)
        try c.encode(at, forKey: .at)
    }
}

/// Inputs to the pipeline state machine.
public enum PipelineInput: Sendable, Equatable {
    /// `paused`: hold before the first stage, as if a pause had been requested (then `resume` or `step`).
    /// `discard`: a collected round waiting for train-now may be dropped (otherwise the start is refused).
    case start(
        mode: PipelineMode,
        rounds: Int,
        runUnitTests: Bool,
        runID: String,
        paused: Bool = false,
        discard: Bool = false
    )
    /// The running stage ended: `nil` failure means success. `at` stamps a resulting error.
    case stageFinished(failure: StageFailure?, at: String)
    case stop
    case trainNow
    case pause
    case resume
    /// Resume a paused run for one stage: it starts, and the run holds again at the next stage boundary.
    case step
    case reset
}

/// What the engine must do as a result of a transition, in order.
public enum PipelineEffect: Sendable, Equatable {
    /// Run `stage` for `round` as a child process.
    case startStage(Stage, round: Int)
    /// Terminate the running child's process tree (TERM, grace, KILL).
    case terminateStage
    /// Append an event to the journal.
    case record(EventDraft)
}

/// Whether an input was taken, with an outcome word (train-now: `started` / `queued`) or a reason for refusal.
public enum PipelineOutcome: Sendable, Equatable {
    case accepted(String?)
    case refused(String)

    public var isAccepted: Bool {
        if case .accepted = self { return true }
        return false
    }
}

/// The result of feeding one input to the state machine.
public struct Transition: Sendable, Equatable {
    public var state: PipelineState
    public var effects: [PipelineEffect]
    public var outcome: PipelineOutcome
}
