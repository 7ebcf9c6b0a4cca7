/// Everything known when one attempt at a stage has ended: the input of `StageConclusion.decide`.
public struct AttemptEnd: Sendable, Equatable {
    public var attempt: StageAttempt
    public var ending: StageEnding
    public var exitCode: Int?
    public var signal: Int?
    /// The exit status as shown (`exit 3`, `killed by SIGKILL`).
    public var exitText: String
    /// The last lines of output, for the failure excerpt.
    public var excerpt: String
    public var seconds: Double
    public var pid: Int32
    /// Pids that survived SIGKILL (should always be empty).
    public var survivors: [Int32]
    /// Why the stage's log file is incomplete, and how many bytes it lost (nil: complete).
    public var logLoss: (bytes: Int64, error: String)?
    /// The time limit the attempt ran with.
    public var timeout: Double
    /// The stage's settings (nil: the stage is no longer configured).
    public var settings: StageConfig?
    /// A stop of the run was requested: no retry.
    public var stopping: Bool

    public init(
        attempt: StageAttempt,
        ending: StageEnding,
        exitCode: Int?,
        signal: Int?,
        exitText: String,
        excerpt: String = "",
        seconds: Double = 0,
        pid: Int32 = 0,
        survivors: [Int32] = [],
        logLoss: (bytes: Int64, error: String)? = nil,
        timeout: Double = 0,
        settings: StageConfig? = nil,
        stopping: Bool = false
    ) {
        self.attempt = attempt
        self.ending = ending
        self.exitCode = exitCode
        self.signal = signal
        self.exitText = exitText
        self.excerpt = excerpt
        self.seconds = seconds
        self.pid = pid
        self.survivors = survivors
        self.logLoss = logLoss
        self.timeout = timeout
        self.settings = settings
        self.stopping = stopping
    }

    public static func == (a: AttemptEnd, b: AttemptEnd) -> Bool {
        a.attempt == b.attempt && a.ending == b.ending && a.exitCode == b.exitCode && a.signal == b.signal
            && a.exitText == b.exitText && a.excerpt == b.excerpt && a.seconds == b.seconds && a.pid == b.pid
            && a.survivors == b.survivors && a.logLoss?.bytes == b.logLoss?.bytes
            && a.logLoss?.error == b.logLoss?.error
            && a.timeout == b.timeout && a.settings == b.settings && a.stopping == b.stopping
    }
}

/// What an ended attempt means for the run: classified, retried or failed, and said in the journal. Pure
/// (`decide`), so every ending × settings × stop combination is table-tested (StageConclusionTests); the engine only
/// carries it out.
public struct StageConclusion: Sendable, Equatable {
    /// Why the stage did not succeed (nil: it succeeded, or a stop interrupted it).
    public var failure: StageFailure?
    /// Another attempt follows (after the retry backoff); the pipeline does not hear of this one.
    public var retry: Bool
    /// The `outcome` label of `heidi_stage_runs_total`.
    public var metricLabel: String
    /// The `stage_timeout` event's message, for an attempt that timed out or hung (nil otherwise).
    public var timeoutMessage: String?
    /// The `stage_end` event's level and message.
    public var level: EventLevel
    public var message: String

    public init(
        failure: StageFailure?,
        retry: Bool,
        metricLabel: String,
        timeoutMessage: String?,
        level: EventLevel,
        message: String
    ) {
        self.failure = failure
        self.retry = retry
        self.metricLabel = metricLabel
        self.timeoutMessage = timeoutMessage
        self.level = level
        self.message = message
    }

    public static func decide(_ end: AttemptEnd) -> StageConclusion {
        let attempt = end.attempt
        let stage = attempt.stage.rawValue
        let allowed = end.settings?.allowFailure ?? false
        let excerpt = excerptSuffix(end.excerpt)
        var timeoutMessage: String?
        var failure: StageFailure?
        if let kind = end.ending.failureKind(exitCode: end.exitCode, signal: end.signal) {
            let text = reason(end)
            if kind == .timeout { timeoutMessage = "\(stage) \(text)\(attempt.suffix)" }
            failure = StageFailure(
                kind: kind,
                message: text + excerpt,
                exitCode: end.exitCode,
                signal: end.signal,
                allowed: allowed
            )
        }
        let retry =
            failure != nil && end.ending != .stopped && !end.stopping && attempt.number < attempt.total
            && !(end.settings?.noRetryExitCodes.contains(end.exitCode ?? -1) ?? false)
        var level = EventLevel.info
        if end.ending == .stopped || retry {
            level = .warn
        } else if let failure {
            level = failure.allowed ? .warn : .error
        }
        let verb = end.ending == .stopped ? "interrupted" : (failure == nil ? "finished" : "failed")
        var message =
            "\(stage) \(verb)\(attempt.suffix) (\(end.exitText)) in \(Units.formatDuration(end.seconds)), pid \(end.pid)"
        if retry {
            message += "; will retry"
        } else if let failure, failure.allowed {
            message += "; failure allowed, run continues"
        }
        if !end.survivors.isEmpty { message += "; WARNING: pids \(end.survivors) survived SIGKILL" }
        if let loss = end.logLoss { message += "; log file incomplete (\(loss.bytes) bytes lost: \(loss.error))" }
        if failure != nil { message += excerpt }
        return StageConclusion(
            failure: failure,
            retry: retry,
            metricLabel: end.ending.metricLabel(exitCode: end.exitCode, signal: end.signal),
            timeoutMessage: timeoutMessage,
            level: level,
            message: message
        )
    }

    /// Why a failed attempt failed, without the output excerpt (`exit 3`, `timed out after 5s (killed by SIGKILL)`).
    static func reason(_ end: AttemptEnd) -> String {
        let status = end.exitText
        switch end.ending {
        case .exited, .stopped: return status
        case .timedOut: return "timed out after \(Units.formatDuration(end.timeout)) (\(status))"
        case .hung:
            let period = end.settings?.watchdog.map { Units.formatDuration($0) } ?? "its watchdog period"
            return "sent no WATCHDOG=1 for \(period) and was treated as hung (\(status))"
        case .spawnFailed: return "could not start (\(status))"
        case .outOfMemory: return "ran out of memory (\(status))"
        case .nodeFailed: return "was lost with its node (\(status))"
        case .preempted: return "was preempted (\(status))"
        case let .unknown(why): return "ended in an unknown state: \(why) (\(status))"
        }
    }

    /// `; last output:` and the excerpt's last 10 lines, or nothing when there was no output.
    public static func excerptSuffix(_ excerpt: String) -> String {
        let lines = excerpt.split(separator: "\n", omittingEmptySubsequences: false).suffix(10)
        let text = lines.joined(separator: "\n")
        return text.isEmpty ? "" : "; last output:\n" + text
    }
}
