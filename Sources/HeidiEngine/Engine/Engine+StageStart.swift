import HeidiCore
import HeidiSupervisor
import HeidiSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Starting a stage attempt: its placeholders, its launch (local child or another executor), and a start that fails.
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
}
