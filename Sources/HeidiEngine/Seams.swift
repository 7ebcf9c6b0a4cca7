import HeidiCore
import HeidiSupervisor
import HeidiSystemd
import Logging

/// A running stage as the engine sees it (a real supervised child, or a test double).
public protocol StageHandle: Sendable {
    var pid: Int32 { get }
    var startTicks: UInt64 { get }
    func requestStop()
    func waitForEnd() async -> StageRunResult
    /// What the stage has reported on its progress channel so far (nil: it has none).
    var progress: StageProgress? { get }
    /// The stage's own cgroup directory, if it has one (recorded in state.json for restart recovery).
    var cgroupPath: String? { get }
    /// What a launcher that runs stages elsewhere needs to find this one again after a restart (a batch job's name
    /// and id); the engine persists it and hands it back to `StageLauncher.adopt`. Nil for local children.
    var executorRecord: ExecutorRecord? { get }
    /// Executor-specific facts for status (`job_id`, `state`, `nodes`, …); nil for local children.
    var executorStatus: [String: String]? { get }
    /// heidid is shutting down: stop watching a stage that keeps running elsewhere and can be adopted after the
    /// restart (true), or refuse (false: a local child is stopped with the daemon).
    func detach() -> Bool
}

extension StageHandle {
    public var progress: StageProgress? { nil }
    public var cgroupPath: String? { nil }
    public var executorRecord: ExecutorRecord? { nil }
    public var executorStatus: [String: String]? { nil }
    public func detach() -> Bool { false }
}

/// What the engine asks a launcher to start.
public struct StageLaunch: Sendable {
    public var stage: Stage
    public var round: Int
    public var spec: LaunchSpec
    public var timeout: Double
    public var grace: Double
    public var instanceToken: String
    /// The delegated cgroup subtree the stage gets its own cgroup in (nil: process group and subreaper only).
    public var cgroups: CgroupDelegation?
    /// The stage's progress channel (`HEIDI_NOTIFY_SOCKET`), if it gets one.
    public var progress: ProgressChannelSettings?
    /// Sees the raw output as it is read (the `progress:` recogniser), if the stage has one.
    public var tap: OutputTap?
    /// Where the stage runs (`executor:`) with that executor's settings, which only its launcher reads.
    public var executor: StageExecutor = .local
    /// Seconds the stage may wait for resources before it runs (`queue_timeout`; batch executors only).
    public var queueTimeout: Double?
    public var runID: String?
    /// 1 for the stage's first attempt.
    public var attempt = 1
    /// Called (from any thread) when the handle's `executorRecord` changes, e.g. once a batch job's id is known.
    public var onExecutorRecord: (@Sendable (ExecutorRecord) -> Void)?
}

/// Starts stage children. The real one spawns processes; engine tests may substitute their own.
public protocol StageLauncher: Sendable {
    func launch(_ launch: StageLaunch, onOutput: @escaping OutputHandler) throws(SpawnError) -> any StageHandle
    /// Takes over the stage a previous heidid started elsewhere (its handle reported `record`), or nil when this
    /// launcher cannot: the engine then cleans up and runs the stage again. `launch` is rebuilt as for a new start,
    /// with the interrupted attempt's instance token.
    func adopt(_ record: ExecutorRecord, _ launch: StageLaunch, onOutput: @escaping OutputHandler) -> (any StageHandle)?
}

extension StageLauncher {
    public func adopt(
        _ record: ExecutorRecord,
        _ launch: StageLaunch,
        onOutput: @escaping OutputHandler
    ) -> (any StageHandle)? { nil }
}

/// Picks the launcher for each stage by its `executor:` (and, after a restart, by the record's executor): local
/// stages go to `local`, others to the launcher registered under the executor's name.
public struct ExecutorLauncher: StageLauncher {
    let local: any StageLauncher
    let others: [String: any StageLauncher]

    public init(local: any StageLauncher, others: [String: any StageLauncher]) {
        self.local = local
        self.others = others
    }

    public func launch(_ launch: StageLaunch, onOutput: @escaping OutputHandler) throws(SpawnError) -> any StageHandle {
        let name = launch.executor.name
        if name == "local" { return try local.launch(launch, onOutput: onOutput) }
        guard let launcher = others[name] else {
            throw SpawnError(
                executable: launch.spec.argv.first ?? "?",
                errno: 22,
                detail: "this heidid has no \(name) executor"
            )
        }
        return try launcher.launch(launch, onOutput: onOutput)
    }

    public func adopt(
        _ record: ExecutorRecord,
        _ launch: StageLaunch,
        onOutput: @escaping OutputHandler
    ) -> (any StageHandle)? {
        (record.executor == "local" ? local : others[record.executor])?.adopt(record, launch, onOutput: onOutput)
    }
}

/// Spawns real, supervised children (`RunningStage`).
public struct ProcessStageLauncher: StageLauncher {
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func launch(_ launch: StageLaunch, onOutput: @escaping OutputHandler) throws(SpawnError) -> any StageHandle {
        try RunningStage.start(
            launch.spec,
            instanceToken: launch.instanceToken,
            timeout: launch.timeout,
            grace: launch.grace,
            cgroups: launch.cgroups,
            progress: launch.progress,
            tap: launch.tap,
            logger: logger,
            onOutput: onOutput
        )
    }
}

extension RunningStage: StageHandle {
    public var pid: Int32 { child.pid }
    public var startTicks: UInt64 { child.startTicks }
    public var progress: StageProgress? { channel?.progress }
    public var cgroupPath: String? { cgroup?.path }
}

/// Mirrors journal events and child output to journald (SPEC §7). A seam: tests and non-journald runs use `nil`.
public protocol EventMirror: Sendable {
    func event(_ event: WrittenEvent)
    func childLine(_ line: OutputLine, stage: Stage, round: Int, runID: String?, pid: Int32)
}

extension JournaldMirror: EventMirror {}
