import HeidiAPI
import HeidiCore
import HeidiJournal
import HeidiSupervisor
import HeidiSystemd
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The one owner of mutable daemon state: the pipeline, the running child, the journal and the status.
///
/// Everything else (control server, stage watchers, timers, signals) sends it messages. It is event driven: it
/// runs only when an action arrives, a child ends, or the watchdog asks for a health check.
public actor Engine {
    public static let version = "0.1.0"

    var config: HeidiConfig { didSet { publishStatus() } }
    let environment: [String: String]
    let launcher: any StageLauncher
    let notifier: any ServiceNotifier
    let mirror: (any EventMirror)?
    let clock: any WallClock
    let logger: Logger
    let startedAt: Timestamp
    /// How whole stage trees are found and killed (`cgroup2+subreaper+pgroup`, …), decided once at start.
    let supervision: Supervision
    /// Readings for the resource governor (`limits.*`).
    let sampler: any SystemLoadSampler
    /// Child output to journald, rate-limited per stage (nil without a mirror).
    let journald: JournaldForwarder?

    // What status shows: every change is published to `statusBoard` (Engine+Status.swift), at once or, inside a
    // step that changes several of them together (`withStatusHeld`), once at its end.
    var state = PipelineState() { didSet { publishStatus() } }
    /// Opening, ready, stopping or closed, with the journal.
    var lifecycle = EngineLifecycle.opening(journal: nil) { didSet { publishStatus() } }
    var lock: StateDirectoryLock?
    /// Empty, a start held by the resource governor or waiting out a retry backoff, or the running child.
    var slot = StageSlot.empty {
        didSet { if oldValue.running != nil || slot.running != nil { publishStatus() } }
    }
    var nextPendingID = 0
    /// A journal or state write failed; reported in status and blocks new stages until writes work again.
    var storageFailure: String? { didSet { publishStatus() } }
    var pendingInputs: [PipelineInput] = []
    var drainingInputs = false
    let logBroadcaster = LogBroadcaster()
    /// The status as of the last change, for requests that must not wait for the actor.
    let statusBoard = StatusBoard()
    /// Nesting depth of `withStatusHeld`; while above 0, changes only mark the board stale.
    var statusHolds = 0
    var statusStale = false
    var metrics = EngineMetrics()
    /// The timers around the journal and state.json's write failure (Engine+Journal.swift).
    var journalRuntime = JournalRuntime()
    /// Who asked for the action being performed, for its journal event (Engine+Web.swift).
    var actionActor: String?
    /// Stages' training scalars by run (Engine+Web.swift).
    var scalarStore = ScalarStore()

    public init(
        config: HeidiConfig,
        environment: [String: String],
        launcher: any StageLauncher,
        notifier: any ServiceNotifier,
        mirror: (any EventMirror)?,
        clock: any WallClock = SystemWallClock(),
        logger: Logger,
        supervision: Supervision? = nil,
        sampler: any SystemLoadSampler = ProcSystemSampler(),
        journaldLimits: JournaldForwarder.Limits = JournaldForwarder.Limits()
    ) {
        self.config = config
        self.environment = environment
        self.launcher = launcher
        self.notifier = notifier
        self.mirror = mirror
        self.clock = clock
        self.logger = logger
        self.startedAt = clock.now()
        self.supervision = supervision ?? Supervision.setUp(environment: environment)
        self.sampler = sampler
        self.journald = mirror.map { mirror in
            JournaldForwarder(limits: journaldLimits) { line, source in
                mirror.childLine(line, stage: source.stage, round: source.round, runID: source.runID, pid: source.pid)
            }
        }
    }

    /// The journal, from `open()` on.
    var journal: Journal? { lifecycle.journal }
    var shuttingDown: Bool { lifecycle.isShuttingDown }
    /// The stage child the engine supervises.
    var current: CurrentStage? { slot.running }
    /// A stage attempt held by the resource governor or waiting out a retry backoff.
    var pendingStart: PendingStart? { slot.pending }

    // MARK: Start-up and shutdown

    /// Takes the state-directory lock, opens the journal (repairing a torn tail), records `daemon_start`, and
    /// recovers an interrupted run. After this the engine is ready except for `READY=1`, sent by `markReady`.
    public func open() throws {
        try FileSystem.createDirectories(config.stateDir)
        // Stages' progress channels live in the runtime directory (heidid's control socket usually does too).
        try FileSystem.createDirectories(config.runtimeDir)
        lock = try StateDirectoryLock(path: config.lockPath, socket: config.socketPath)
        let persisted = try StateFile.read(from: config.stateFilePath)
        // Verified before anything is appended: damage is recorded, never written over (Engine+Journal.swift).
        let check = try checkJournal(against: persisted)
        let writer = try JournalWriter(
            path: config.journalPath,
            fsync: config.journalFsync,
            rotateSize: config.journalRotateSize
        )
        lifecycle = .opening(journal: Journal(writer: writer, checkpointInterval: config.journalCheckpointInterval))
        try loadJournalKey()
        record(
            EventDraft(
                .daemonStart,
                message: "heidid \(Self.version) started (pid \(getpid()), config \(config.source), "
                    + "supervision \(supervision.mechanism)\(config.mockSubprocesses ? ", mock subprocesses" : ""))"
            )
        )
        logger.notice("supervision: \(supervision.mechanism)", metadata: ["detail": "\(supervision.detail)"])
        if let repair = writer.repair {
            record(
                EventDraft(
                    .journalRepaired,
                    level: .warn,
                    message:
                        "cut a torn last line off the journal: \(repair.droppedBytes) bytes, sha256 \(repair.droppedSHA256)"
                )
            )
        }
        try recordDamage(check)
        startSealing()
        if let persisted { recover(from: persisted) }
        persist()
    }

    /// Called once the control socket listens: the daemon is fully up.
    public func markReady() {
        if case .opening(let journal?) = lifecycle { lifecycle = .ready(journal: journal) }
        notifier.notify("READY=1\nSTATUS=\(statusLine())\nMAINPID=\(getpid())")
        logger.info("heidid ready", metadata: ["state": "\(state.phase.rawValue)", "socket": "\(config.socketPath)"])
        if config.autostart && !state.runActive && state.phase != .error {
            // A collected round waiting for train-now is kept: autostart never discards it.
            if case .refused(let reason) = startRun(StartRequest()) {
                logger.notice("autostart skipped: \(reason)")
            }
        }
    }

    /// Stops a running stage (children get their grace), records `daemon_stop`, and closes the journal.
    public func shutdown(reason: String = "SIGTERM") async {
        guard !shuttingDown else { return }
        lifecycle = .stopping(journal: journal)
        notifier.notify("STOPPING=1\nSTATUS=stopping (\(reason))")
        let detached = current.map { $0.handle.detach() } ?? false
        if detached {
            // It runs on elsewhere (a batch job): state.json keeps its record, the next heidid re-attaches to it.
            logger.notice(
                "stage left running for the next heidid",
                metadata: ["stage": "\(state.phase.stage?.rawValue ?? "-")"]
            )
        } else if let current {
            let grace = current.grace + 5
            notifier.notify("EXTEND_TIMEOUT_USEC=\(UInt64(grace * 1e6))")
            if !state.stopping { submit(.stop) }
            await current.watcher.value
        } else if pendingStart != nil && !state.stopping {
            submit(.stop)  // a start still held or backing off is dropped at once
        }
        stopSealing()
        let left =
            detached
            ? "; its \(current?.handle.executorRecord?.executor ?? "") stage keeps running and is re-attached on restart"
            : ""
        record(
            EventDraft(
                .daemonStop,
                message: "heidid stopping (\(reason))\(left)",
                runID: state.runID,
                round: state.round
            )
        )
        persist()
        if detached { slot = .empty }  // its watcher's end (if any) no longer concerns this engine
        logBroadcaster.finishAll()
        statusBoard.finishWatchers()
        closeJournal()
        lock = nil
        lifecycle = .closed(journal: journal)
    }

    /// Applies a re-read configuration: stage definitions apply from the next stage start (SPEC §10).
    public func reload(_ newConfig: HeidiConfig) {
        var applied = newConfig
        var notes: [String] = []
        if newConfig.stateDir != config.stateDir {
            applied.stateDir = config.stateDir
            notes.append("state_dir")
        }
        if newConfig.socketPath != config.socketPath {
            applied.socketPath = config.socketPath
            notes.append("control.socket")
        }
        config = applied
        let ignored = notes.isEmpty ? "" : "; \(notes.joined(separator: ", ")) need a restart and were kept"
        record(
            EventDraft(
                .configReloaded,
                message: "configuration reloaded from \(newConfig.source)\(ignored)",
                runID: state.runID,
                round: state.round
            )
        )
        persist()
    }

    /// Records a reload that failed validation; the old configuration stays in force.
    public func reloadFailed(_ error: String) {
        record(
            EventDraft(
                .configReloaded,
                level: .error,
                message: "reload refused, keeping the running configuration: \(error)",
                runID: state.runID,
                round: state.round
            )
        )
    }

    // MARK: The state machine loop

    /// Feeds an input to the pipeline and carries out the effects. Inputs produced while effects run (a mocked
    /// stage finishes at once) are queued by `enqueue` and applied in order afterwards, never recursively.
    @discardableResult
    func submit(_ input: PipelineInput) -> PipelineOutcome {
        withStatusHeld {
            let outcome = apply(input)
            drainPendingInputs()
            return outcome
        }
    }

    func drainPendingInputs() {
        guard !drainingInputs else { return }
        drainingInputs = true
        defer { drainingInputs = false }
        while !pendingInputs.isEmpty { apply(pendingInputs.removeFirst()) }
    }

    func enqueue(_ input: PipelineInput) { pendingInputs.append(input) }

    @discardableResult
    private func apply(_ input: PipelineInput) -> PipelineOutcome {
        let transition = Pipeline.transition(state, input)
        guard transition.outcome.isAccepted else { return transition.outcome }
        state = transition.state
        for effect in transition.effects {
            switch effect {
            case .record(let draft): record(draft)
            case .terminateStage: terminateStage()
            case .startStage(let stage, let round): startStage(stage, round: round)
            }
        }
        persist()
        notifier.notify("STATUS=\(statusLine())")
        return transition.outcome
    }

    // MARK: Journal and state.json

    /// Appends an event (Engine+Journal.swift publishes it to journald and followers). A failed write is
    /// reported and blocks new stages; it never leaves half a line.
    @discardableResult
    func record(_ draft: EventDraft, at time: Timestamp? = nil) -> WrittenEvent? {
        guard journal != nil else { return nil }
        let draft = attributed(draft)
        do { return try appendEvent(draft, at: time ?? clock.now()) } catch {
            journalWriteFailed(error, lost: draft.type)
            return nil
        }
    }

    /// Writes `state.json` atomically.
    func persist() {
        let file = StateFile(
            status: snapshot(),
            legacyStatus: state.legacyStatus,
            stageActive: state.stageActive,
            runUnitTests: state.runUnitTests,
            allowedFailures: state.allowedFailures,
            stageInstance: current?.token,
            stageCgroup: current?.cgroupPath,
            stageExecutor: current?.handle.executorRecord,
            stageAttempt: current?.attempt.number
        )
        do { try file.write(to: config.stateFilePath) } catch {
            stateFileWriteFailed("\(error)")
            return
        }
        stateFileWritten()
    }
}
