import HeidiCore
import HeidiSupervisor

/// The stage child the engine is supervising.
struct CurrentStage {
    var attempt: StageAttempt
    var handle: any StageHandle
    var argv: [String]
    var startedAt: Timestamp
    var startNanos: UInt64
    var timeout: Double
    var grace: Double
    var output: StageOutputSink
    var token: String
    var watcher: Task<Void, Never>
    /// Reads progress from the output when the stage has `progress:`.
    var meter: StageProgressMeter?

    var stage: Stage { attempt.stage }
    var round: Int { attempt.round }
    /// What a status request refreshes without the engine.
    var live: StatusBoard.LiveStage { StatusBoard.LiveStage(handle: handle, startNanos: startNanos, meter: meter) }
    var runID: String? { attempt.runID }
    var logFile: StageLogFile { output.logFile }
    var cgroupPath: String? { handle.cgroupPath }
}
