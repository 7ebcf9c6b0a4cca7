import HeidiCore
import HeidiSupervisor

#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    /// The status object (SPEC §5).
    func snapshot() -> StatusSnapshot {
        let now = clock.now()
        let child = current.map { current in
            var child = ChildStatus(
                pid: current.handle.pid,
                pgid: current.handle.pid,
                argv: current.argv,
                startedAt: current.startedAt.description,
                elapsedSeconds: 0,
                timeoutSeconds: current.timeout,
                status: nil,
                startTicks: current.handle.startTicks
            )
            current.live.refresh(&child)
            return child
        }
        var lastError = state.lastError
        if lastError == nil, let storageFailure {
            lastError = PipelineFailure(
                stage: nil,
                round: state.round,
                message: storageFailure,
                exitCode: nil,
                signal: nil,
                at: now.description
            )
        }
        return StatusSnapshot(
            version: Self.version,
            pid: getpid(),
            startedAt: startedAt.description,
            state: state.phase,
            mode: state.mode,
            runID: state.runID,
            round: state.round,
            rounds: state.rounds,
            stage: state.stage?.rawValue,
            paused: state.paused,
            pauseRequested: state.pauseRequested,
            trainNowPending: state.trainNowPending,
            awaitingTrainNow: state.awaitingTrainNow,
            stopping: state.stopping,
            child: child,
            lastError: lastError,
            lastWarning: state.lastWarning,
            journal: JournalHead(
                path: config.journalPath,
                seq: journal?.lastSeq ?? 0,
                head: journal?.headHash ?? SHA256.zeroHex,
                damage: journal?.damage
            ),
            supervision: supervision.mechanism,
            updatedAt: now.description
        )
    }

    /// Publishes the status for requests that do not wait for the engine (`status()`); called whenever something
    /// `snapshot()` shows has changed. Inside `withStatusHeld`, only marks the board stale.
    func publishStatus() {
        guard statusHolds == 0 else {
            statusStale = true
            return
        }
        statusBoard.publish(snapshot(), live: current?.live)
        logBroadcaster.setRunActive(
            state.phase.isRunning || current != nil || state.awaitingTrainNow,
            runEnding: runEndingDescription()
        )
    }

    /// Why no stage runs any more, for log followers whose stage did not run: `the run is IDLE (…)`.
    private func runEndingDescription() -> String {
        guard let runID = state.runID else { return "no run is active" }
        return "\(runID) is \(state.phase.rawValue)"
    }

    /// Runs `step`, which changes several things status shows together (the pipeline state and the running stage,
    /// say), and publishes once when it is done: a status read never sees half a step, such as `FINALIZING` before
    /// its stage has a child. `step` is synchronous, so the board is never held across a suspension.
    func withStatusHeld<Result>(_ step: () -> Result) -> Result {
        statusHolds += 1
        defer {
            statusHolds -= 1
            if statusHolds == 0 && statusStale {
                statusStale = false
                publishStatus()
            }
        }
        return step()
    }

    /// systemd's one-line status: `FINALIZING (train) round 2/3 run_… child 5678 12m`.
    func statusLine() -> String {
        var parts = [state.phase.rawValue]
        if let stage = state.stage { parts.append("(\(stage.rawValue))") }
        if state.runID != nil { parts.append("round \(state.round)/\(state.rounds)") }
        if let runID = state.runID { parts.append(runID) }
        if state.paused { parts.append("paused") }
        if state.awaitingTrainNow { parts.append("waiting for train-now") }
        if let current {
            parts.append(
                "child \(current.handle.pid) \(Units.formatDuration(Double(MonotonicClock.nanoseconds() - current.startNanos) / 1e9))"
            )
            if let progress = current.handle.progress?.status { parts.append("– \(progress)") }
            if let progress = current.meter?.current { parts.append("– \(progress.summary)") }
        }
        if let note = pendingStartNote() { parts.append("– \(note)") }
        if let error = state.lastError, state.phase == .error { parts.append("– \(error.stage ?? "?") failed") }
        if journal?.damage != nil { parts.append("– journal damage recorded") }
        return parts.joined(separator: " ")
    }

    /// The running stage's status text changed (coalesced by its progress channel): refresh systemd's status line.
    func progressChanged(token: String) {
        guard let current, current.token == token else { return }
        keepScalars(of: current, progress: current.handle.progress)
        notifier.notify("STATUS=\(statusLine())")
    }

    /// Prometheus text exposition (`GET /metrics`).
    func metricsText() -> String {
        var out = PrometheusText()
        out.family("heidi_up", .gauge, "1 while heidid is running.") { $0.sample(1) }
        out.family("heidi_pipeline_state", .gauge, "1 for the current pipeline state.") { family in
            for phase in PipelinePhase.allCases {
                family.sample(phase == state.phase ? 1 : 0, ["state": phase.rawValue])
            }
        }
        out.family("heidi_round", .gauge, "The current round of the run.") { $0.sample(Double(state.round)) }
        out.family("heidi_journal_seq", .counter, "The seq of the last journal line.") {
            $0.sample(Double(journal?.lastSeq ?? 0))
        }
        out.family("heidi_events_total", .counter, "Journal events written since start, by type.") { family in
            for (type, count) in metrics.events.sorted(by: { $0.key < $1.key }) {
                family.sample(Double(count), ["type": type])
            }
        }
        metrics.write(to: &out, live: current.map { ($0.stage.rawValue, $0.output, $0.handle.progress) })
        if let current, let progress = current.meter?.current {
            ProgressMetrics.write(progress, stage: current.stage.rawValue, to: &out)
        }
        out.family(
            "heidi_log_follower_lines_skipped_total",
            .counter,
            "Output lines live followers skipped because they fell behind."
        ) {
            $0.sample(Double(logBroadcaster.skippedLines.load(ordering: .relaxed)))
        }
        let process = DaemonProcessStats.read()
        out.family("heidi_process_resident_memory_bytes", .gauge, "Resident memory of heidid.") {
            $0.sample(Double(process.residentBytes))
        }
        out.family("heidi_process_open_fds", .gauge, "Open file descriptors of heidid.") {
            $0.sample(Double(process.openFDs))
        }
        out.family("heidi_process_cpu_seconds_total", .counter, "User and system CPU time of heidid.") {
            $0.sample(process.cpuSeconds)
        }
        out.family("heidi_process_threads", .gauge, "Threads of heidid.") { $0.sample(Double(process.threads)) }
        return out.text
    }
}
