/// A Slurm job state as `squeue`, `scontrol` and `sacct` print it (`JobState=`, `%T`, `State`).
public enum SlurmJobState: Sendable, Equatable, CustomStringConvertible {
    case pending, configuring, running, completing, suspended, requeued, requeueHold, requeueFed, resizing, stopped,
        signaling
    case stageOut, specialExit
    case completed, failed, cancelled, timeout, outOfMemory, nodeFail, preempted, bootFail, deadline, revoked
    /// A state this version of heidi does not know: neither running nor finished, so heidi keeps watching.
    case other(String)

    private static let names: [(String, SlurmJobState)] = [
        ("PENDING", .pending), ("CONFIGURING", .configuring), ("RUNNING", .running), ("COMPLETING", .completing),
        ("SUSPENDED", .suspended), ("REQUEUED", .requeued), ("REQUEUE_HOLD", .requeueHold),
        ("REQUEUE_FED", .requeueFed),
        ("RESIZING", .resizing), ("STOPPED", .stopped), ("SIGNALING", .signaling), ("STAGE_OUT", .stageOut),
        ("SPECIAL_EXIT", .specialExit), ("COMPLETED", .completed), ("FAILED", .failed), ("CANCELLED", .cancelled),
        ("TIMEOUT", .timeout), ("OUT_OF_MEMORY", .outOfMemory), ("NODE_FAIL", .nodeFail), ("PREEMPTED", .preempted),
        ("BOOT_FAIL", .bootFail), ("DEADLINE", .deadline), ("REVOKED", .revoked),
    ]

    /// Parses `RUNNING`, `CANCELLED by 0`, `CANCELLED+` (sacct's truncation mark), `OUT_OF_ME+`, lower case too.
    public init(_ text: String) {
        var word = Substring(text.uppercased()).prefix { $0 != " " }
        while word.hasSuffix("+") { word = word.dropLast() }
        if let exact = Self.names.first(where: { $0.0 == word }) {
            self = exact.1
        } else if text.hasSuffix("+"), !word.isEmpty, let prefixed = Self.names.first(where: { $0.0.hasPrefix(word) }) {
            self = prefixed.1
        } else {
            self = .other(String(word))
        }
    }

    public var description: String {
        if case .other(let name) = self { return name }
        return Self.names.first { $0.1 == self }?.0 ?? "UNKNOWN"
    }

    /// The job will not run again by itself (its record is final, apart from a requeue an operator starts).
    public var isFinished: Bool {
        switch self {
        case .completed, .failed, .cancelled, .timeout, .outOfMemory, .nodeFail, .preempted, .bootFail, .deadline,
            .revoked:
            return true
        default:
            return false
        }
    }

    /// Waiting for resources or to be started again (queue time, not run time).
    public var isQueued: Bool {
        switch self {
        case .pending, .configuring, .requeued, .requeueHold, .requeueFed: return true
        default: return false
        }
    }

    /// Holding an allocation and running (or finishing) its batch script.
    public var isRunning: Bool {
        switch self {
        case .running, .completing, .suspended, .signaling, .stageOut, .resizing, .stopped: return true
        default: return false
        }
    }
}
