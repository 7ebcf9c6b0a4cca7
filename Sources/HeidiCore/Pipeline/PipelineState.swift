/// Everything the pipeline state machine knows. A value: the engine keeps the current one and persists it.
public struct PipelineState: Sendable, Equatable {
    public var phase: PipelinePhase = .idle
    public var mode: PipelineMode = .full
    public var runID: String?
    public var round = 0
    public var rounds = 0
    public var runUnitTests = false
    /// The current phase's stage: none, running (a child, or its start pending in the engine), or being stopped.
    public var stageRun = StageRun.none
    /// The operator's pause: none, requested (takes effect at the next stage boundary), or holding at one.
    public var hold = Hold.none
    /// Collect mode's train-now: none, queued while collecting, or awaited in IDLE after a collected round.
    public var trainNow = TrainNow.none
    public var lastError: PipelineFailure?
    /// The last stage failure the run went on after (`allow_failure`, eval by default); kept until the next start.
    public var lastWarning: PipelineFailure?
    /// How many allowed stage failures this run has had (the completion event says so).
    public var allowedFailures = 0
    /// How the last run ended while IDLE: `completed` or `stopped` (nil while running or never run).
    public var lastRunEnding: RunEnding?

    public init() {}

    /// A child is running the current phase's stage (or being stopped).
    public var stageActive: Bool { stageRun != .none }
    /// Held at a stage boundary; `resume` starts the current phase's stage.
    public var paused: Bool { hold == .paused }
    /// Pause asked for while a stage runs; it takes effect when the stage ends.
    public var pauseRequested: Bool { hold == .requested }
    /// Collect mode: train-now arrived while collecting; the round trains instead of going idle.
    public var trainNowPending: Bool { trainNow == .queued }
    /// Stop asked for; the child is being terminated.
    public var stopping: Bool { stageRun == .stopping }
    /// Collect mode: IDLE after a collected round, waiting for train-now.
    public var awaitingTrainNow: Bool { trainNow == .awaited }

    /// The running stage, or the stage a paused run will start on resume.
    public var stage: Stage? { phase.stage }

    /// Whether a run is in progress (a new `start` would be refused).
    public var runActive: Bool { phase.isRunning }

    /// The original engine's coarse status word (`state.json` key `status`).
    public var legacyStatus: String {
        switch phase {
        case .error: return "error"
        case .idle: return lastRunEnding?.rawValue ?? "idle"
        default: return paused ? "paused" : "running"
        }
    }
}

extension PipelineState {
    /// The current phase's stage. Stopping is a way of running: stop applies to a running stage only.
    public enum StageRun: Sendable, Equatable {
        /// No stage runs: IDLE, ERROR, or held at a boundary.
        case none
        /// The stage runs (its child, or its start held by the governor or a retry backoff).
        case running
        /// Stop was asked for: the child is being terminated, and the run ends when it has.
        case stopping
    }

    /// The operator's pause. A pause requested and a pause in effect never coexist: the request becomes the hold.
    public enum Hold: Sendable, Equatable {
        case none
        /// `pause` while a stage runs (or `start --paused`, `step`): the run holds at the next stage boundary. Kept
        /// through a collected round waiting for train-now.
        case requested
        /// Held at a stage boundary: `resume` or `step` starts the current phase's stage.
        case paused
    }

    /// Collect mode's train-now. Queued (while collecting) and awaited (in IDLE, collected) never coexist.
    public enum TrainNow: Sendable, Equatable {
        case none
        /// Train-now arrived while collecting: the round trains instead of going idle.
        case queued
        /// IDLE after a collected round, waiting for train-now.
        case awaited
    }
}
