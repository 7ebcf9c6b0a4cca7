import HeidiCore
import HeidiSupervisor

/// Ending a stage attempt: `stage_end` with its usage and counters, then a retry or the pipeline's next step.
extension Engine {
    /// A stage's child tree is gone: record `stage_end` with its usage, then retry the stage or let the pipeline
    /// decide what is next.
    func stageEnded(token: String, result: StageRunResult) {
        withStatusHeld { finishStage(token: token, result: result) }
    }

    private func finishStage(token: String, result: StageRunResult) {
        guard let finished = current, finished.token == token else { return }
        slot = .empty
        keepScalars(of: finished, progress: result.progress)
        finished.logFile.close()
        finished.output.finish()
        let attempt = finished.attempt
        let stage = attempt.stage
        let seconds = Double(result.wallMilliseconds) / 1000
        let exitText = result.exit.description
        let logLoss = finished.logFile.lastError.map { (bytes: finished.logFile.unwrittenBytes, error: "\($0)") }
        let conclusion = StageConclusion.decide(
            AttemptEnd(
                attempt: attempt,
                ending: result.ending,
                exitCode: result.exit.exitCode,
                signal: result.exit.signal,
                exitText: exitText,
                excerpt: result.excerpt,
                seconds: seconds,
                pid: finished.handle.pid,
                survivors: result.survivors,
                logLoss: logLoss,
                timeout: finished.timeout,
                settings: config.stages[stage],
                stopping: state.stopping
            )
        )
        if let timeoutMessage = conclusion.timeoutMessage {
            record(
                EventDraft(
                    .stageTimeout,
                    level: .error,
                    message: timeoutMessage,
                    runID: attempt.runID,
                    round: attempt.round,
                    stage: stage.rawValue
                )
            )
        }
        record(
            EventDraft(
                .stageEnd,
                level: conclusion.level,
                message: conclusion.message,
                runID: attempt.runID,
                round: attempt.round,
                stage: stage.rawValue,
                countersDelta: counters(result, finished),
                usageDelta: Self.usageDelta(result, reported: true),
                artifactPaths: [finished.logFile.path]
            )
        )
        metrics.stageEnded(stage, outcome: conclusion.metricLabel, seconds: seconds, result: result)
        metrics.journaldDropped += finished.output.journald?.droppedLines ?? 0
        logger.info(
            "stage ended",
            metadata: ["stage": "\(stage.rawValue)", "outcome": "\(conclusion.metricLabel)", "exit": "\(exitText)"]
        )
        if conclusion.retry {
            scheduleRetry(after: attempt, because: exitText)
            return
        }
        logBroadcaster.end(
            path: finished.logFile.path,
            Self.logEnding(result.ending, failure: conclusion.failure, exitText: exitText)
        )
        submit(.stageFinished(failure: conclusion.failure, at: clock.now().description))
    }

    /// `usage_delta` of `stage_end`: wall time, CPU (from the cgroup when there is one: it includes orphans and
    /// escapers that `wait4` of the leader cannot see), max RSS, and the cgroup's memory peak when known.
    /// With `reported`, the stage's own `X_HEIDI_USAGE` totals are included (the daemon's measurements win a clash).
    static func usageDelta(_ result: StageRunResult, reported: Bool = false) -> [String: Double] {
        var usage: [String: Double] = reported ? result.progress?.usage ?? [:] : [:]
        usage.merge([
            "wall_ms": Double(result.wallMilliseconds), "cpu_user_ms": Double(result.exit.userCPUMilliseconds),
            "cpu_sys_ms": Double(result.exit.systemCPUMilliseconds), "max_rss_kb": Double(result.exit.maxRSSKilobytes),
        ]) { _, measured in measured }
        if let cgroup = result.cgroupUsage {
            usage["cpu_user_ms"] = Double(max(cgroup.userMicroseconds / 1000, result.exit.userCPUMilliseconds))
            usage["cpu_sys_ms"] = Double(max(cgroup.systemMicroseconds / 1000, result.exit.systemCPUMilliseconds))
            if let peak = cgroup.memoryPeakBytes { usage["memory_peak_kb"] = Double(peak / 1024) }
        }
        return usage
    }

    /// `counters_delta` of `stage_end`: the stage's own `X_HEIDI_COUNTERS` totals plus the daemon's output counts.
    private func counters(_ result: StageRunResult, _ finished: CurrentStage) -> [String: Double] {
        var counters = result.progress?.counters ?? [:]
        counters["output_lines"] = Double(result.outputLines)
        counters["output_bytes"] = Double(result.outputBytes)
        if let refused = result.progress?.refused, refused > 0 {
            counters["progress_datagrams_refused"] = Double(refused)
        }
        if let dropped = finished.output.journald?.droppedLines, dropped > 0 {
            counters["journald_lines_dropped"] = Double(dropped)
        }
        return counters
    }

    /// How a stage's log ended, for its followers.
    static func logEnding(_ ending: StageEnding, failure: StageFailure?, exitText: String) -> StageLogEnding {
        guard let failure else { return ending == .stopped ? .interrupted(exitText) : .succeeded(exitText) }
        let excerpt = failure.message.firstRange(of: "; last output:")?.lowerBound ?? failure.message.endIndex
        let message = String(failure.message[..<excerpt])
        return failure.kind == .timeout ? .timedOut(message) : .failed(message)
    }
}
