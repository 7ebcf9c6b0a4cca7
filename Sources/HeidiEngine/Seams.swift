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
}

extension StageHandle {
    public var progress: StageProgress? { nil }
    public var cgroupPath: String? { nil }
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
}

/// Starts stage children. The real one spawns processes; engine tests may substitute their own.
public protocol StageLauncher: Sendable {
    func launch(_ launch: StageLaunch, onOutput: @escaping OutputHandler) throws(SpawnError) -> any StageHandle
}

/// Spawns real, supervised children (`RunningStage`).
public struct ProcessStageLauncher: StageLauncher {
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func launch(_ launch: StageLaunch, onOutput: @escaping OutputHandler) throws(SpawnError) -> any StageHandle {
        try RunningStage.start(launch.spec, instanceToken: launch.instanceToken, timeout: launch.timeout,
                               grace: launch.grace, cgroups: launch.cgroups, progress: launch.progress, tap: launch.tap, logger: logger,
                               onOutput: onOutput)
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
