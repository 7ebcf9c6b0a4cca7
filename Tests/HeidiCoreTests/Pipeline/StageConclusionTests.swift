import HeidiCore
import Testing

/// `StageConclusion.decide`: every way an attempt can end × the stage's settings × a stop, as a table. The messages
/// are the journal's (`stage_end`, `stage_timeout`): a change here is a change users see.
@Suite struct StageConclusionTests {
    struct Row: CustomTestStringConvertible, Sendable {
        var name: String
        var ending: StageEnding
        var exitCode: Int? = nil
        var signal: Int? = nil
        var exitText = "exit 0"
        var attempt = 1
        var attempts = 1
        var allowed = false
        var noRetry: [Int] = []
        var watchdog: Double? = nil
        var stopping = false
        // Expected:
        var kind: StageFailure.Kind?
        var label: String
        var retry = false
        var level: EventLevel
        var message: String
        var timeoutMessage: String? = nil
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        Row(
            name: "success",
            ending: .exited,
            exitCode: 0,
            kind: nil,
            label: "success",
            level: .info,
            message: "train finished (exit 0) in 2.0s, pid 42"
        ),
        Row(
            name: "exit code",
            ending: .exited,
            exitCode: 3,
            exitText: "exit 3",
            kind: .exit,
            label: "failed",
            level: .error,
            message: "train failed (exit 3) in 2.0s, pid 42; last output:\nboom"
        ),
        Row(
            name: "signal",
            ending: .exited,
            signal: 11,
            exitText: "killed by SIGSEGV",
            kind: .signal,
            label: "failed",
            level: .error,
            message: "train failed (killed by SIGSEGV) in 2.0s, pid 42; last output:\nboom"
        ),
        Row(
            name: "no status",
            ending: .exited,
            exitText: "unknown status",
            kind: .exit,
            label: "failed",
            level: .error,
            message: "train failed (unknown status) in 2.0s, pid 42; last output:\nboom"
        ),
        Row(
            name: "timeout",
            ending: .timedOut,
            signal: 9,
            exitText: "killed by SIGKILL",
            kind: .timeout,
            label: "timeout",
            level: .error,
            message: "train failed (killed by SIGKILL) in 2.0s, pid 42; last output:\nboom",
            timeoutMessage: "train timed out after 5.0s (killed by SIGKILL)"
        ),
        Row(
            name: "timeout though exit 0",
            ending: .timedOut,
            exitCode: 0,
            kind: .timeout,
            label: "timeout",
            level: .error,
            message: "train failed (exit 0) in 2.0s, pid 42; last output:\nboom",
            timeoutMessage: "train timed out after 5.0s (exit 0)"
        ),
        Row(
            name: "hung",
            ending: .hung,
            signal: 15,
            exitText: "killed by SIGTERM",
            watchdog: 30,
            kind: .timeout,
            label: "hung",
            level: .error,
            message: "train failed (killed by SIGTERM) in 2.0s, pid 42; last output:\nboom",
            timeoutMessage: "train sent no WATCHDOG=1 for 30.0s and was treated as hung (killed by SIGTERM)"
        ),
        Row(
            name: "hung, no watchdog setting",
            ending: .hung,
            signal: 15,
            exitText: "killed by SIGTERM",
            kind: .timeout,
            label: "hung",
            level: .error,
            message: "train failed (killed by SIGTERM) in 2.0s, pid 42; last output:\nboom",
            timeoutMessage:
                "train sent no WATCHDOG=1 for its watchdog period and was treated as hung (killed by SIGTERM)"
        ),
        Row(
            name: "stopped",
            ending: .stopped,
            signal: 15,
            exitText: "killed by SIGTERM",
            stopping: true,
            kind: nil,
            label: "interrupted",
            level: .warn,
            message: "train interrupted (killed by SIGTERM) in 2.0s, pid 42"
        ),
        Row(
            name: "stopped, exit 0",
            ending: .stopped,
            exitCode: 0,
            attempts: 3,
            kind: nil,
            label: "interrupted",
            level: .warn,
            message: "train interrupted (attempt 1/3) (exit 0) in 2.0s, pid 42"
        ),
        Row(
            name: "retry",
            ending: .exited,
            exitCode: 1,
            exitText: "exit 1",
            attempts: 3,
            kind: .exit,
            label: "failed",
            retry: true,
            level: .warn,
            message: "train failed (attempt 1/3) (exit 1) in 2.0s, pid 42; will retry; last output:\nboom"
        ),
        Row(
            name: "last attempt",
            ending: .exited,
            exitCode: 1,
            exitText: "exit 1",
            attempt: 3,
            attempts: 3,
            kind: .exit,
            label: "failed",
            level: .error,
            message: "train failed (attempt 3/3) (exit 1) in 2.0s, pid 42; last output:\nboom"
        ),
        Row(
            name: "no-retry exit code",
            ending: .exited,
            exitCode: 2,
            exitText: "exit 2",
            attempts: 3,
            noRetry: [2],
            kind: .exit,
            label: "failed",
            level: .error,
            message: "train failed (attempt 1/3) (exit 2) in 2.0s, pid 42; last output:\nboom"
        ),
        Row(
            name: "timeout retried",
            ending: .timedOut,
            signal: 9,
            exitText: "killed by SIGKILL",
            attempts: 2,
            kind: .timeout,
            label: "timeout",
            retry: true,
            level: .warn,
            message: "train failed (attempt 1/2) (killed by SIGKILL) in 2.0s, pid 42; will retry; last output:\nboom",
            timeoutMessage: "train timed out after 5.0s (killed by SIGKILL) (attempt 1/2)"
        ),
        Row(
            name: "stop during a retried stage",
            ending: .exited,
            exitCode: 1,
            exitText: "exit 1",
            attempts: 3,
            stopping: true,
            kind: .exit,
            label: "failed",
            level: .error,
            message: "train failed (attempt 1/3) (exit 1) in 2.0s, pid 42; last output:\nboom"
        ),
        Row(
            name: "allowed failure",
            ending: .exited,
            exitCode: 1,
            exitText: "exit 1",
            allowed: true,
            kind: .exit,
            label: "failed",
            level: .warn,
            message: "train failed (exit 1) in 2.0s, pid 42; failure allowed, run continues; last output:\nboom"
        ),
        Row(
            name: "allowed, retried",
            ending: .exited,
            exitCode: 1,
            exitText: "exit 1",
            attempts: 2,
            allowed: true,
            kind: .exit,
            label: "failed",
            retry: true,
            level: .warn,
            message: "train failed (attempt 1/2) (exit 1) in 2.0s, pid 42; will retry; last output:\nboom"
        ),
        Row(
            name: "out of memory",
            ending: .outOfMemory,
            signal: 9,
            exitText: "killed by SIGKILL",
            kind: .outOfMemory,
            label: "out_of_memory",
            level: .error,
            message: "train failed (killed by SIGKILL) in 2.0s, pid 42; last output:\nboom"
        ),
        Row(
            name: "node failure retried",
            ending: .nodeFailed,
            exitText: "unknown status",
            attempts: 2,
            kind: .lost,
            label: "node_fail",
            retry: true,
            level: .warn,
            message: "train failed (attempt 1/2) (unknown status) in 2.0s, pid 42; will retry; last output:\nboom"
        ),
        Row(
            name: "preempted",
            ending: .preempted,
            exitText: "unknown status",
            kind: .lost,
            label: "preempted",
            level: .error,
            message: "train failed (unknown status) in 2.0s, pid 42; last output:\nboom"
        ),
        Row(
            name: "unknown fate, even with exit 0",
            ending: .unknown("sacct has no record"),
            exitCode: 0,
            kind: .lost,
            label: "unknown",
            level: .error,
            message: "train failed (exit 0) in 2.0s, pid 42; last output:\nboom"
        ),
        Row(
            name: "spawn failed",
            ending: .spawnFailed,
            exitText: "unknown status",
            kind: .spawn,
            label: "spawn_failed",
            level: .error,
            message: "train failed (unknown status) in 2.0s, pid 42; last output:\nboom"
        ),
    ]

    static func end(_ row: Row) -> AttemptEnd {
        let settings = StageConfig(
            command: ["t"],
            timeout: 5,
            allowFailure: row.allowed,
            retries: row.attempts - 1,
            noRetryExitCodes: row.noRetry,
            watchdog: row.watchdog
        )
        return AttemptEnd(
            attempt: StageAttempt(stage: .train, round: 1, runID: "run_1", number: row.attempt, total: row.attempts),
            ending: row.ending,
            exitCode: row.exitCode,
            signal: row.signal,
            exitText: row.exitText,
            excerpt: "boom",
            seconds: 2,
            pid: 42,
            timeout: 5,
            settings: settings,
            stopping: row.stopping
        )
    }

    @Test(arguments: rows)
    func decides(_ row: Row) {
        let conclusion = StageConclusion.decide(Self.end(row))
        #expect(conclusion.failure?.kind == row.kind)
        #expect(conclusion.failure?.allowed ?? row.allowed == row.allowed)
        #expect(conclusion.metricLabel == row.label)
        #expect(conclusion.retry == row.retry)
        #expect(conclusion.level == row.level)
        #expect(conclusion.message == row.message)
        #expect(conclusion.timeoutMessage == row.timeoutMessage)
        // The failure carries the exit status and the reason with the excerpt, as `last_error` shows it.
        if let failure = conclusion.failure {
            #expect(failure.exitCode == row.exitCode && failure.signal == row.signal)
            #expect(failure.message.hasSuffix("; last output:\nboom"))
        }
    }

    @Test func failureReasonsNameTheEnding() {
        func reason(_ ending: StageEnding) -> String? {
            var row = Self.rows[0]
            row.ending = ending
            row.exitText = "unknown status"
            return StageConclusion.decide(Self.end(row)).failure?.message
        }
        #expect(reason(.outOfMemory) == "ran out of memory (unknown status); last output:\nboom")
        #expect(reason(.nodeFailed) == "was lost with its node (unknown status); last output:\nboom")
        #expect(reason(.preempted) == "was preempted (unknown status); last output:\nboom")
        #expect(
            reason(.unknown("sacct has no record"))
                == "ended in an unknown state: sacct has no record (unknown status); last output:\nboom"
        )
        #expect(reason(.spawnFailed) == "could not start (unknown status); last output:\nboom")
        #expect(reason(.exited) == nil, "exit 0 is the only success")
    }

    @Test func survivorsAndLostLogLinesAreSaid() {
        var end = Self.end(Self.rows[0])
        end.survivors = [7, 8]
        end.logLoss = (bytes: 12, error: "disk full")
        #expect(
            StageConclusion.decide(end).message
                == "train finished (exit 0) in 2.0s, pid 42; WARNING: pids [7, 8] survived SIGKILL; log file incomplete (12 bytes lost: disk full)"
        )
    }

    @Test func noOutputNoExcerpt() {
        var end = Self.end(Self.rows[1])
        end.excerpt = ""
        #expect(StageConclusion.decide(end).message == "train failed (exit 3) in 2.0s, pid 42")
        #expect(
            StageConclusion.excerptSuffix(String(repeating: "x\n", count: 20) + "y").split(separator: "\n").count == 11,
            "the excerpt keeps the last 10 lines"
        )
    }
}
