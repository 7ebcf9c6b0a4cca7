/// Everything the pipeline state machine knows. A value: the engine keeps the current one and persists it.
public struct PipelineState: Sendable, Equatable {
    public var phase: PipelinePhase = .idle
    public var mode: PipelineMode = .full
    public var runID: String?
    public var round = 0
    public var rounds = 0
    public var runUnitTests = false
    /// A child is running the current phase's stage.
    public var stageActive = false
    /// Held at a stage boundary; `resume` starts the current phase's stage.
    public var paused = false
    /// Pause asked for while a stage runs; it takes effect when the stage ends.
    public var pauseRequested = false
    /// Collect mode: train-now arrived while collecting; the round trains instead of going idle.
    public var trainNowPending = false
    /// Stop asked for; the child is being terminated.
    public var stopping = false
    /// Collect mode: IDLE after a collected round, waiting for train-now.
    public var awaitingTrainNow = false
    public var lastError: PipelineFailure?
    /// The last stage failure the run went on after (`allow_failure`, eval by default); kept until the next start.
    public var lastWarning: PipelineFailure?
    /// How many allowed stage failures this run has had (the completion event says so).
    public var allowedFailures = 0
    /// How the last run ended while IDLE: `completed` or `stopped` (nil while running or never run).
    public var lastRunEnding: RunEnding?

    public init() {}

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
