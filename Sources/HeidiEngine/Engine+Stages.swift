#if canImport(Glibc)
import Glibc
#endif
import HeidiCore
import HeidiSupervisor
import Synchronization

/// The stage child the engine is supervising.
struct CurrentStage {
    var stage: Stage
    var round: Int
    var runID: String?
    var handle: any StageHandle
    var argv: [String]
    var startedAt: Timestamp
    var startNanos: UInt64
    var timeout: Double
    var grace: Double
    var logFile: StageLogFile
    var token: String
    var watcher: Task<Void, Never>
    /// The last `STATUS=` line from the stage's progress channel.
    var progress: String?
}

extension Engine {
    /// Placeholder values for a stage of the current run.
    func placeholders(for stage: Stage, round: Int) -> [String: String] {
        let runID = state.runID ?? "none"
        var values = config.vars
        values["round"] = String(round)
        values["rounds"] = String(state.rounds)
        values["run_id"] = runID
        values["run_dir"] = config.runDirectory(runID)
        values["state_dir"] = config.stateDir
        values["repo_root"] = config.repoRoot
        values["mode"] = state.mode.rawValue
        values["stage"] = stage.rawValue
        return values
    }

    func expand(_ text: String, _ values: [String: String]) -> Result<String, PlaceholderError> {
        Placeholders.expand(text) { values[$0] }
    }

    /// Starts `stage`: journal first (durable before the child exists), then the child.
    func startStage(_ stage: Stage, round: Int) {
        let runID = state.runID
        guard storageFailure == nil else {
            failStart(stage, round: round, "not starting \(stage.rawValue): the journal cannot be written (\(storageFailure ?? ""))")
            return
        }
        if config.mockSubprocesses {
            record(EventDraft(.stageStart, message: "\(stage.rawValue) started (mocked)", runID: runID, round: round, stage: stage.rawValue))
            record(EventDraft(.stageEnd, message: "\(stage.rawValue) finished (exit 0) (mocked)", runID: runID, round: round,
                              stage: stage.rawValue, usageDelta: ["wall_ms": 0]))
            metrics.stageEnded(stage, outcome: "success", seconds: 0)
            enqueue(.stageFinished(failure: nil, at: clock.now().description))
            return
        }
        guard let settings = config.stages[stage] else {
            failStart(stage, round: round, "no command is configured for stage \(stage.rawValue)")
            return
        }
        let values = placeholders(for: stage, round: round)
        let launch: StageLaunch
        let logFile: StageLogFile
        do {
            launch = try makeLaunch(stage, round: round, settings: settings, values: values)
            let logPath = "\(values["run_dir"] ?? config.stateDir)/logs/round-\(round)/\(stage.rawValue).log"
            logFile = try StageLogFile(path: logPath, maxSize: config.logMaxSize)
            try FileSystem.createDirectories(values["run_dir"] ?? config.stateDir)
        } catch {
            failStart(stage, round: round, "\(error)")
            return
        }
        let shown = launch.spec.argv.map { $0.contains(" ") ? JSONText.quoted($0) : $0 }.joined(separator: " ")
        record(EventDraft(.stageStart, message: "\(stage.rawValue) starting: \(shown)", runID: runID, round: round, stage: stage.rawValue))
        let handle: any StageHandle
        let sinkContext = LineSinkContext(broadcaster: logBroadcaster, logFile: logFile, mirror: config.logsToJournald ? mirror : nil,
                                          stage: stage, round: round, runID: runID)
        do {
            handle = try launcher.launch(launch) { line in sinkContext.deliver(line) }
        } catch {
            record(EventDraft(.stageEnd, level: .error, message: "\(stage.rawValue) could not start: \(error)", runID: runID,
                              round: round, stage: stage.rawValue))
            metrics.stageEnded(stage, outcome: "spawn_failed", seconds: 0)
            enqueue(.stageFinished(failure: StageFailure(kind: .spawn, message: "\(error)", allowed: settings.allowFailure),
                                   at: clock.now().description))
            return
        }
        sinkContext.pid.store(handle.pid, ordering: .relaxed)
        let token = launch.instanceToken
        let watcher = Task { [handle] in
            let result = await handle.waitForEnd()
            self.stageEnded(token: token, result: result)
        }
        current = CurrentStage(
            stage: stage, round: round, runID: runID, handle: handle, argv: launch.spec.argv, startedAt: clock.now(),
            startNanos: MonotonicClock.nanoseconds(), timeout: settings.timeout, grace: settings.stopGrace,
            logFile: logFile, token: token, watcher: watcher)
        logger.info("stage started", metadata: ["stage": "\(stage.rawValue)", "round": "\(round)", "pid": "\(handle.pid)"])
    }

    private func makeLaunch(_ stage: Stage, round: Int, settings: StageConfig, values: [String: String]) throws -> StageLaunch {
        let argv = try settings.command.map { try expand($0, values).get() }
        let cwd = try settings.cwd.map { FileSystem.resolve(try expand($0, values).get(), against: config.repoRoot) }
        let stageEnv = try settings.env.mapValues { try expand($0, values).get() }
        let heidi = [
            "HEIDI_RUN_ID": values["run_id"] ?? "", "HEIDI_ROUND": String(round), "HEIDI_ROUNDS": String(state.rounds),
            "HEIDI_STAGE": stage.rawValue, "HEIDI_RUN_DIR": values["run_dir"] ?? "", "HEIDI_STATE_DIR": config.stateDir,
        ]
        let directory = cwd ?? (FileSystem.isDirectory(config.repoRoot) ? config.repoRoot : config.stateDir)
        let spec = LaunchSpec(argv: argv, environment: ChildEnvironment.make(daemon: environment, stage: stageEnv, heidi: heidi),
                              workingDirectory: directory)
        return StageLaunch(stage: stage, round: round, spec: spec, timeout: settings.timeout, grace: settings.stopGrace,
                           instanceToken: Self.randomToken())
    }

    private func failStart(_ stage: Stage, round: Int, _ message: String) {
        record(EventDraft(.stageEnd, level: .error, message: "\(stage.rawValue) could not start: \(message)",
                          runID: state.runID, round: round, stage: stage.rawValue))
        enqueue(.stageFinished(failure: StageFailure(kind: .spawn, message: message), at: clock.now().description))
    }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()  // getrandom(2)
        return Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// A stage's child tree is gone: record `stage_end` with its usage, then let the pipeline decide what is next.
    func stageEnded(token: String, result: StageRunResult) {
        guard let finished = current, finished.token == token else { return }
        current = nil
        finished.logFile.close()
        let stage = finished.stage
        let seconds = Double(result.wallMilliseconds) / 1000
        let usage: [String: Double] = [
            "wall_ms": Double(result.wallMilliseconds), "cpu_user_ms": Double(result.exit.userCPUMilliseconds),
            "cpu_sys_ms": Double(result.exit.systemCPUMilliseconds), "max_rss_kb": Double(result.exit.maxRSSKilobytes),
        ]
        let counters: [String: Double] = ["output_lines": Double(result.outputLines), "output_bytes": Double(result.outputBytes)]
        let settings = config.stages[stage]
        var failure: StageFailure?
        var level = EventLevel.info
        var outcome = "success"
        let exitText = result.exit.description
        switch result.ending {
        case .exited where result.exit.succeeded:
            break
        case .exited:
            failure = StageFailure(kind: result.exit.signal != nil ? .signal : .exit,
                                   message: "\(exitText)\(Self.excerptSuffix(result.excerpt))",
                                   exitCode: result.exit.exitCode, signal: result.exit.signal, allowed: settings?.allowFailure ?? false)
            outcome = "failed"
        case .timedOut:
            let text = "timed out after \(Units.formatDuration(finished.timeout)) (\(exitText))"
            record(EventDraft(.stageTimeout, level: .error, message: "\(stage.rawValue) \(text)", runID: finished.runID,
                              round: finished.round, stage: stage.rawValue))
            failure = StageFailure(kind: .timeout, message: text + Self.excerptSuffix(result.excerpt),
                                   exitCode: result.exit.exitCode, signal: result.exit.signal, allowed: settings?.allowFailure ?? false)
            outcome = "timeout"
        case .stopped:
            outcome = "interrupted"
            level = .warn
        }
        if let failure { level = failure.allowed ? .warn : .error }
        let verb = result.ending == .stopped ? "interrupted" : (failure == nil ? "finished" : "failed")
        var message = "\(stage.rawValue) \(verb) (\(exitText)) in \(Units.formatDuration(seconds)), pid \(finished.handle.pid)"
        if let failure, failure.allowed { message += "; failure allowed, run continues" }
        if !result.survivors.isEmpty { message += "; WARNING: pids \(result.survivors) survived SIGKILL" }
        if failure != nil { message += Self.excerptSuffix(result.excerpt) }
        record(EventDraft(.stageEnd, level: level, message: message, runID: finished.runID, round: finished.round,
                          stage: stage.rawValue, countersDelta: counters, usageDelta: usage,
                          artifactPaths: [finished.logFile.path]))
        metrics.stageEnded(stage, outcome: outcome, seconds: seconds)
        logger.info("stage ended", metadata: ["stage": "\(stage.rawValue)", "outcome": "\(outcome)", "exit": "\(exitText)"])
        submit(.stageFinished(failure: failure, at: clock.now().description))
    }

    static func excerptSuffix(_ excerpt: String) -> String {
        let lines = excerpt.split(separator: "\n", omittingEmptySubsequences: false).suffix(10)
        let text = lines.joined(separator: "\n")
        return text.isEmpty ? "" : "; last output:\n" + text
    }

    /// Restart recovery (SPEC §2): make sure nothing of the interrupted stage survives, then resume or go idle.
    func recover(from persisted: StateFile) {
        let previous = persisted.pipelineState
        if previous.stageActive, let child = persisted.status.child {
            let killed = Self.killLeftovers(pgid: child.pgid, startTicks: child.startTicks)
            if killed > 0 {
                logger.warning("killed processes left by the previous daemon", metadata: ["pgid": "\(child.pgid)", "count": "\(killed)"])
            }
        }
        state = previous
        state.stageActive = false
        let transition = Pipeline.recover(previous, resume: config.recovery == .resume)
        state = transition.state
        for effect in transition.effects {
            switch effect {
            case .record(let draft): record(draft)
            case .startStage(let stage, let round): startStage(stage, round: round)
            case .terminateStage: break
            }
        }
        drainPendingInputs()
    }

    /// SIGKILLs the recorded process group of a previous daemon's stage, unless the pid now belongs to another
    /// process (checked by start time). Returns how many processes were signalled.
    static func killLeftovers(pgid: Int32, startTicks: UInt64?) -> Int {
        // A live pid with another start time was reused; the kernel never reuses a pid while a group of that
        // id still has members, so the old group is gone too.
        if let leader = ProcessTable.info(pgid), let startTicks, leader.startTicks != startTicks { return 0 }
        let members = ProcessTable.all().filter { ($0.group == pgid || $0.session == pgid) && !$0.isZombie }
        guard !members.isEmpty else { return 0 }
        killpg(pgid, SIGKILL)
        for member in members { kill(member.pid, SIGKILL) }
        return members.count
    }
}

/// Delivers one stage's output lines to its log file, journald and live followers (called on the stage's queue).
final class LineSinkContext: @unchecked Sendable {
    let broadcaster: LogBroadcaster
    let logFile: StageLogFile
    let mirror: (any EventMirror)?
    let stage: Stage
    let round: Int
    let runID: String?
    /// Set right after spawn (the first lines may race it and carry 0).
    let pid = Atomic<Int32>(0)

    init(broadcaster: LogBroadcaster, logFile: StageLogFile, mirror: (any EventMirror)?, stage: Stage, round: Int, runID: String?) {
        self.broadcaster = broadcaster
        self.logFile = logFile
        self.mirror = mirror
        self.stage = stage
        self.round = round
        self.runID = runID
    }

    func deliver(_ line: OutputLine) {
        let text = line.cut ? line.text + " …[line cut at 16 KiB]" : line.text
        broadcaster.publish(text, stage: stage, round: round) { logFile.append(text) }
        mirror?.childLine(OutputLine(stream: line.stream, text: text, cut: line.cut), stage: stage, round: round, runID: runID, pid: pid.load(ordering: .relaxed))
    }
}
