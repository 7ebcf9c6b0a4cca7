import HeidiCore
import HeidiSupervisor
import HeidiSystemd
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

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

extension Engine {
    /// Placeholder values for a stage of the current run.
    func placeholders(for stage: Stage, round: Int) -> [String: String] {
        Placeholders.values(
            config: config,
            runID: state.runID,
            round: round,
            rounds: state.rounds,
            mode: state.mode,
            stage: stage
        )
    }

    func expand(_ text: String, _ values: [String: String]) -> Result<String, PlaceholderError> {
        Placeholders.expand(text) { values[$0] }
    }

    /// The pipeline wants `stage` to run: the first attempt goes through the resource governor, then starts.
    func startStage(_ stage: Stage, round: Int) {
        let runID = state.runID
        guard storageFailure == nil else {
            failStart(
                StageAttempt(stage: stage, round: round, runID: runID, number: 1, total: 1),
                "the journal cannot be written (\(storageFailure ?? ""))",
                allowed: false
            )
            return
        }
        if config.mockSubprocesses {
            record(
                EventDraft(
                    .stageStart,
                    message: "\(stage.rawValue) started (mocked)",
                    runID: runID,
                    round: round,
                    stage: stage.rawValue
                )
            )
            record(
                EventDraft(
                    .stageEnd,
                    message: "\(stage.rawValue) finished (exit 0) (mocked)",
                    runID: runID,
                    round: round,
                    stage: stage.rawValue,
                    usageDelta: ["wall_ms": 0]
                )
            )
            metrics.stageEnded(stage, outcome: StageEnding.exited.metricLabel(exitCode: 0, signal: nil), seconds: 0)
            enqueue(.stageFinished(failure: nil, at: clock.now().description))
            return
        }
        let retries = config.stages[stage]?.retries ?? 0
        holdForResources(StageAttempt(stage: stage, round: round, runID: runID, number: 1, total: retries + 1))
    }

    /// Starts one attempt: journal first (durable before the child exists), then the child. With `adoption`, takes
    /// over the attempt a previous heidid started elsewhere instead (no new stage_start; false when the launcher
    /// cannot, and nothing was changed).
    @discardableResult
    func launchAttempt(_ attempt: StageAttempt, adopting adoption: StageAdoption? = nil) -> Bool {
        let stage = attempt.stage
        let round = attempt.round
        guard let settings = config.stages[stage] else {
            if adoption != nil { return false }
            failStart(attempt, "no command is configured for stage \(stage.rawValue)", allowed: false)
            return true
        }
        let values = placeholders(for: stage, round: round)
        var launch: StageLaunch
        let logFile: StageLogFile
        do {
            launch = try makeLaunch(stage, round: round, settings: settings, values: values, token: adoption?.token)
            let logPath = "\(values["run_dir"] ?? config.stateDir)/logs/round-\(round)/\(stage.rawValue).log"
            logFile = try StageLogFile(path: logPath, maxSize: config.logMaxSize)
            try FileSystem.createDirectories(values["run_dir"] ?? config.stateDir)
        } catch {
            if adoption != nil { return false }
            failStart(attempt, "\(error)", allowed: settings.allowFailure)
            return true
        }
        if adoption == nil {
            if attempt.number > 1 {
                logFile.append(
                    Array("──── heidid: \(stage.rawValue) attempt \(attempt.number)/\(attempt.total) ────\n".utf8)
                )
            }
            let shown = launch.spec.argv.map { $0.contains(" ") ? JSONText.quoted($0) : $0 }.joined(separator: " ")
            record(
                EventDraft(
                    .stageStart,
                    message: "\(stage.rawValue) starting\(attempt.suffix): \(shown)",
                    runID: attempt.runID,
                    round: round,
                    stage: stage.rawValue
                )
            )
        }
        let feed =
            !config.logsToJournald
            ? nil
            : journald?.feed(
                for: ForwardedLineSource(
                    stage: stage,
                    round: round,
                    runID: attempt.runID,
                    pid: 0,
                    logPath: logFile.path
                )
            )
        let sink = StageOutputSink(
            broadcaster: logBroadcaster,
            logFile: logFile,
            journald: feed,
            stage: stage,
            round: round
        )
        let token = launch.instanceToken
        describeExecutor(&launch, attempt: attempt, settings: settings)
        launch.progress = ProgressChannelSettings(directory: config.runtimeDir, watchdog: settings.watchdog) {
            [weak self] in
            Task { await self?.progressChanged(token: token) }
        }
        let meter = settings.progress.flatMap { format in
            StageProgressMeter(format: format) { [weak self] in Task { await self?.progressChanged(token: token) } }
        }
        if let meter { launch.tap = { stream, bytes in meter.observe(stream, bytes) } }
        let handle: any StageHandle
        if let adoption {
            guard let adopted = launcher.adopt(adoption.record, launch, onOutput: { batch in sink.deliver(batch) })
            else {
                logFile.close()
                return false
            }
            handle = adopted
        } else {
            do {
                handle = try launcher.launch(launch) { batch in sink.deliver(batch) }
            } catch {
                record(
                    EventDraft(
                        .stageEnd,
                        level: .error,
                        message: "\(stage.rawValue) could not start\(attempt.suffix): \(error)",
                        runID: attempt.runID,
                        round: round,
                        stage: stage.rawValue
                    )
                )
                metrics.stageEnded(
                    stage,
                    outcome: StageEnding.spawnFailed.metricLabel(exitCode: nil, signal: nil),
                    seconds: 0
                )
                logFile.close()
                logBroadcaster.end(path: logFile.path, .failed("could not start: \(error)"))
                enqueue(
                    .stageFinished(
                        failure: StageFailure(spawn: "\(error)", allowed: settings.allowFailure),
                        at: clock.now().description
                    )
                )
                return true
            }
        }
        feed?.setPID(handle.pid)
        let watcher = Task { [handle] in
            let result = await handle.waitForEnd()
            self.stageEnded(token: token, result: result)
        }
        slot = .running(
            CurrentStage(
                attempt: attempt,
                handle: handle,
                argv: launch.spec.argv,
                startedAt: clock.now(),
                startNanos: MonotonicClock.nanoseconds(),
                timeout: settings.timeout,
                grace: settings.stopGrace,
                output: sink,
                token: token,
                watcher: watcher,
                meter: meter
            )
        )
        logger.info(
            "stage started",
            metadata: [
                "stage": "\(stage.rawValue)", "round": "\(round)", "pid": "\(handle.pid)",
                "attempt": "\(attempt.number)/\(attempt.total)",
            ]
        )
        // A stage that runs elsewhere is found again by its record: durable before the watcher (which runs on this
        // actor, after this step) lets the launcher submit it.
        if let executorRecord = handle.executorRecord {
            if adoption == nil { journalExecutorRecord(executorRecord, attempt: attempt) }
            persist()
        }
        return true
    }

    private func makeLaunch(
        _ stage: Stage,
        round: Int,
        settings: StageConfig,
        values: [String: String],
        token: String?
    ) throws -> StageLaunch {
        let argv = try settings.command.map { try expand($0, values).get() }
        let cwd = try settings.cwd.map { FileSystem.resolve(try expand($0, values).get(), against: config.repoRoot) }
        var stageEnv = try settings.env.mapValues { try expand($0, values).get() }
        if config.engineEnvironment {
            stageEnv = EngineEnvironment.variables(values, runUnitTests: config.runUnitTests).merging(stageEnv) {
                _,
                own in own
            }
        }
        let heidi = [
            "HEIDI_RUN_ID": values["run_id"] ?? "", "HEIDI_ROUND": String(round), "HEIDI_ROUNDS": String(state.rounds),
            "HEIDI_STAGE": stage.rawValue, "HEIDI_RUN_DIR": values["run_dir"] ?? "", "HEIDI_STATE_DIR": config.stateDir,
        ]
        let directory = cwd ?? (FileSystem.isDirectory(config.repoRoot) ? config.repoRoot : config.stateDir)
        let spec = LaunchSpec(
            argv: argv,
            environment: ChildEnvironment.make(daemon: environment, stage: stageEnv, heidi: heidi),
            workingDirectory: directory,
            rlimits: ResourceLimit.from(settings.rlimits)
        )
        return StageLaunch(
            stage: stage,
            round: round,
            spec: spec,
            timeout: settings.timeout,
            grace: settings.stopGrace,
            instanceToken: token ?? Self.randomToken(),
            cgroups: supervision.cgroups
        )
    }

    /// Records that `attempt` could not start, and ends the pipeline stage with that failure.
    func failStart(_ attempt: StageAttempt, _ message: String, allowed: Bool) {
        let stage = attempt.stage
        record(
            EventDraft(
                .stageEnd,
                level: allowed ? .warn : .error,
                message: "\(stage.rawValue) could not start: \(message)",
                runID: attempt.runID,
                round: attempt.round,
                stage: stage.rawValue
            )
        )
        metrics.stageEnded(stage, outcome: StageEnding.spawnFailed.metricLabel(exitCode: nil, signal: nil), seconds: 0)
        logBroadcaster.end(path: stageLogPath(stage, round: attempt.round), .failed("could not start: \(message)"))
        enqueue(.stageFinished(failure: StageFailure(spawn: message, allowed: allowed), at: clock.now().description))
    }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()  // getrandom(2)
        return Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

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

/// Delivers one stage's output batches to its log file, live followers and journald (from the pipe reader threads,
/// one batch at a time).
final class StageOutputSink: Sendable {
    let broadcaster: LogBroadcaster
    let logFile: StageLogFile
    let journald: JournaldFeed?
    let stage: Stage
    let round: Int
    /// Live totals for `/metrics` (rates while the stage runs).
    let lines = Atomic<Int>(0)
    let bytes = Atomic<Int>(0)

    init(broadcaster: LogBroadcaster, logFile: StageLogFile, journald: JournaldFeed?, stage: Stage, round: Int) {
        self.broadcaster = broadcaster
        self.logFile = logFile
        self.journald = journald
        self.stage = stage
        self.round = round
    }

    func deliver(_ batch: OutputBatch) {
        broadcaster.publish(batch.bytes, lines: batch.lineCount, path: logFile.path) { logFile.append(batch.bytes) }
        journald?.offer(batch)
        lines.add(batch.lineCount, ordering: .relaxed)
        bytes.add(batch.bytes.count, ordering: .relaxed)
    }

    /// The stage ended: journald hears how many lines it did not get.
    func finish() { journald?.finish() }
}
