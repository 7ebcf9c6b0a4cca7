/// How one attempt at a stage ended: the one notion the supervisor, the engine, the metrics and the pipeline share.
/// Whether an attempt that `exited` by itself succeeded depends on its exit status as well (code 0, no signal); every
/// other ending is never a success. The metric label (`heidi_stage_runs_total{outcome}`) and the failure kind are
/// derived from it, never kept beside it.
///
/// A batch scheduler's endings fit without another copy: Slurm's `TIMEOUT` is `timedOut`, `OUT_OF_MEMORY` is
/// `outOfMemory`, `NODE_FAIL` is `nodeFailed`, `PREEMPTED` is `preempted`, and a job whose fate cannot be learned
/// (accounting lost, a state heidi does not know) is `unknown` with the reason.
public enum StageEnding: Sendable, Hashable {
    /// The stage's leader exited by itself (with any status: the exit code and signal decide success).
    case exited
    /// Killed after exceeding its time limit (heidid's `timeout:`, or the scheduler's time limit).
    case timedOut
    /// Terminated because a stop was requested.
    case stopped
    /// Killed because it stopped sending `WATCHDOG=1` on its progress channel (or sent `WATCHDOG=trigger`).
    case hung
    /// It never started (spawn refused, a placeholder that cannot expand, no command, the journal cannot be written).
    case spawnFailed
    /// Killed for exceeding its memory limit (Slurm `OUT_OF_MEMORY`).
    case outOfMemory
    /// The machine running it failed (Slurm `NODE_FAIL`).
    case nodeFailed
    /// The scheduler took its resources for other work (Slurm `PREEMPTED`).
    case preempted
    /// Its fate cannot be known (why, for the message): never counted as a success.
    case unknown(String)

    /// Whether the attempt did its work: it exited by itself with code 0.
    public func succeeded(exitCode: Int?, signal: Int?) -> Bool {
        self == .exited && exitCode == 0 && signal == nil
    }

    /// The `outcome` label of `heidi_stage_runs_total`.
    public func metricLabel(exitCode: Int?, signal: Int?) -> String {
        switch self {
        case .exited: return succeeded(exitCode: exitCode, signal: signal) ? "success" : "failed"
        case .timedOut: return "timeout"
        case .hung: return "hung"
        case .stopped: return "interrupted"
        case .spawnFailed: return "spawn_failed"
        case .outOfMemory: return "out_of_memory"
        case .nodeFailed: return "node_fail"
        case .preempted: return "preempted"
        case .unknown: return "unknown"
        }
    }

    /// What kind of failure the attempt was (nil: it succeeded, or it was interrupted by a stop, which is no failure).
    public func failureKind(exitCode: Int?, signal: Int?) -> StageFailure.Kind? {
        switch self {
        case .exited:
            if succeeded(exitCode: exitCode, signal: signal) { return nil }
            return signal != nil ? .signal : .exit
        case .timedOut, .hung: return .timeout
        case .stopped: return nil
        case .spawnFailed: return .spawn
        case .outOfMemory: return .outOfMemory
        case .nodeFailed, .preempted, .unknown: return .lost
        }
    }

    /// A short name for logs (`exited`, `timedOut`, ..., `unknown`).
    public var name: String {
        switch self {
        case .exited: return "exited"
        case .timedOut: return "timedOut"
        case .stopped: return "stopped"
        case .hung: return "hung"
        case .spawnFailed: return "spawnFailed"
        case .outOfMemory: return "outOfMemory"
        case .nodeFailed: return "nodeFailed"
        case .preempted: return "preempted"
        case .unknown: return "unknown"
        }
    }
}

/// How the last run ended, kept while IDLE (`state.json`'s `status`: `completed` or `stopped`).
public enum RunEnding: String, Sendable, Equatable, CaseIterable {
    case completed, stopped
}
