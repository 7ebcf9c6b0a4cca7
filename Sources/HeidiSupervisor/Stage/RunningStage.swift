import HeidiCore
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How a stage run ended.
public struct StageRunResult: Sendable, Equatable {
    /// How it ended (`exited` by itself, or terminated: `timedOut`, `hung`, `stopped`).
    public var ending: StageEnding
    public var exit: ExitInfo
    public var wallMilliseconds: Int64
    public var outputLines: Int64
    public var outputBytes: Int64
    /// The last lines of output (stdout and stderr), for the failure excerpt.
    public var excerpt: String
    /// Pids that could not be killed (should always be empty).
    public var survivors: [Int32]
    /// CPU and memory of the whole tree, from the stage's cgroup (nil without cgroup supervision).
    public var cgroupUsage: CgroupUsage?
    /// What the stage reported on its progress channel (nil when it had none).
    public var progress: StageProgress?
}

/// A stage's progress channel (`HEIDI_NOTIFY_SOCKET`): where its socket goes, the keep-alive period the stage must
/// honour (`watchdog:`), and whom to tell when its status text changes.
public struct ProgressChannelSettings: Sendable {
    public var directory: String
    public var watchdog: Double?
    public var onStatusChange: @Sendable () -> Void

    public init(directory: String, watchdog: Double?, onStatusChange: @escaping @Sendable () -> Void) {
        self.directory = directory
        self.watchdog = watchdog
        self.onStatusChange = onStatusChange
    }
}

/// Receives each batch of output lines of a running stage (log file, journald, followers), one batch at a time,
/// from the pipe reader threads.
public typealias OutputHandler = @Sendable (OutputBatch) -> Void

/// Sees each read from a stage's stdout or stderr as it arrives, raw: before line assembly and redaction, with
/// `\r` redraws intact (the progress recogniser; it keeps numbers only). Called on the reader threads.
public typealias OutputTap = @Sendable (OutputStream, UnsafeRawBufferPointer) -> Void

/// Runs one stage as a supervised child: spawn, capture output, enforce the timeout, honour stop requests with
/// TERM → grace → KILL, and leave no process of the stage behind.
public final class RunningStage: @unchecked Sendable {
    public let child: ChildProcess
    /// The stage's own cgroup, when the daemon has a delegated subtree.
    public let cgroup: StageCgroup?
    /// The stage's progress channel, if it has one.
    public let channel: StageNotifyChannel?
    public let startedAt: Timestamp
    private let startNanos: UInt64
    private let events: AsyncStream<Event>
    private let sink: AsyncStream<Event>.Continuation
    private let killer: TreeKiller
    private let timeout: Double
    private let grace: Double
    private let logger: Logger
    private let collector: OutputCollector
    /// The exit watcher also measures the timeout (see `ChildProcess.onExit`); false only without pidfds.
    private let timedByWatcher: Bool

    enum Event: Sendable {
        /// The leader exited; it is still an unreaped zombie.
        case exited
        case timeout
        case stop
        case graceExpired
        case outputClosed
        case watchdogExpired
    }

    /// Spawns the stage (in a cgroup of its own when `cgroups` is given, with a progress channel when `progress` is
    /// given). `onOutput` sees every (redacted) batch of output lines; the log file is written by the caller's handler.
    public static func start(
        _ spec: LaunchSpec,
        instanceToken: String,
        timeout: Double,
        grace: Double,
        cgroups: CgroupDelegation? = nil,
        progress: ProgressChannelSettings? = nil,
        tap: OutputTap? = nil,
        logger: Logger,
        onOutput: @escaping OutputHandler
    ) throws(SpawnError) -> RunningStage {
        var spec = spec
        spec.environment["HEIDI_STAGE_INSTANCE"] = instanceToken
        var channel: StageNotifyChannel?
        if let progress {
            do {
                channel = try StageNotifyChannel(
                    directory: progress.directory,
                    name: StageNotifyChannel.name(forInstance: instanceToken),
                    watchdog: progress.watchdog,
                    logger: logger
                )
            } catch {
                // Without the channel a stage that must ping its watchdog would be killed as hung: refuse to start it.
                if progress.watchdog != nil {
                    throw SpawnError(executable: spec.argv.first ?? "?", errno: 0, detail: "\(error)")
                }
                logger.warning("stage runs without a progress channel", metadata: ["error": "\(error)"])
            }
            if let channel { spec.environment["HEIDI_NOTIFY_SOCKET"] = channel.address }
        }
        var cgroup: StageCgroup?
        if let cgroups {
            let name = "stage-\(spec.environment["HEIDI_STAGE"] ?? "run")-\(instanceToken.prefix(12))"
            do { cgroup = try cgroups.makeStageGroup(name) } catch {
                logger.warning(
                    "no cgroup for this stage; process group and subreaper only",
                    metadata: ["error": "\(error)"]
                )
            }
            spec.cgroup = cgroup?.path
        }
        let child: ChildProcess
        do { child = try ChildProcess.spawn(spec) } catch {
            cgroup?.remove()
            channel?.discard()
            throw error
        }
        let stage = RunningStage(
            child: child,
            cgroup: cgroup,
            channel: channel,
            token: instanceToken,
            timeout: timeout,
            grace: grace,
            tap: tap,
            logger: logger,
            onOutput: onOutput
        )
        if let channel, let progress {
            let killer = stage.killer
            let sink = stage.sink
            channel.start(
                isMember: { killer.isMember($0) },
                onStatusChange: progress.onStatusChange,
                onWatchdogExpired: { sink.yield(.watchdogExpired) }
            )
        }
        return stage
    }

    private init(
        child: ChildProcess,
        cgroup: StageCgroup?,
        channel: StageNotifyChannel?,
        token: String,
        timeout: Double,
        grace: Double,
        tap: OutputTap?,
        logger: Logger,
        onOutput: @escaping OutputHandler
    ) {
        self.child = child
        self.cgroup = cgroup
        self.channel = channel
        self.startedAt = Timestamp.now()
        self.startNanos = MonotonicClock.nanoseconds()
        self.timeout = timeout
        self.grace = grace
        self.logger = logger
        self.killer = TreeKiller(leader: child.pid, instanceEntry: "HEIDI_STAGE_INSTANCE=\(token)", cgroup: cgroup)
        (events, sink) = AsyncStream.makeStream(of: Event.self)
        collector = OutputCollector(onOutput: onOutput)
        let sink = self.sink
        let collector = self.collector
        let capture = OutputCapture(
            stdout: child.stdoutFD,
            stderr: child.stderrFD,
            pid: child.pid,
            tap: tap,
            deliver: { collector.handle($0) },
            onClose: { _ in sink.yield(.outputClosed) }
        )
        collector.capture = capture
        capture.start()
        timedByWatcher = child.onExit(timeout: timeout, onTimeout: { sink.yield(.timeout) }) { sink.yield(.exited) }
    }

    /// What the reader has done for stdout and for stderr so far.
    public var readerActivity: [ReaderActivity] { collector.capture?.currentActivity ?? [] }

    /// Asks the stage to stop: SIGTERM to the tree now, SIGKILL after the grace period.
    public func requestStop() { sink.yield(.stop) }

    /// Waits until the stage has ended and every process of it is gone, then reports how it ended. Call it once.
    /// Cancelling the caller asks the stage to stop (TERM, grace, KILL) and still waits for the whole tree: the
    /// supervision runs in a task of its own, so a cancelled caller can never leave a process behind.
    public func waitForEnd() async -> StageRunResult {
        let supervision = Task { await self.superviseUntilEnd() }
        return await withTaskCancellationHandler {
            await supervision.value
        } onCancel: {
            self.requestStop()
        }
    }

    private func superviseUntilEnd() async -> StageRunResult {
        let sink = self.sink
        let timer =
            timedByWatcher
            ? nil
            : Task {
                try await Task.sleep(nanoseconds: UInt64(max(0, timeout) * 1e9))
                sink.yield(.timeout)
            }
        defer { timer?.cancel() }
        var ending = StageEnding.exited
        var exit: ExitInfo?
        var openPipes = 2
        var graceTimer: Task<Void, Error>?
        var drainTimer: Task<Void, Error>?
        defer {
            graceTimer?.cancel()
            drainTimer?.cancel()
        }
        var survivors: [Int32] = []
        var usage: CgroupUsage?

        for await event in events {
            switch event {
            case .timeout, .stop, .watchdogExpired:
                guard exit == nil, ending == .exited else { continue }
                ending = event.ending
                logger.info("stage terminating", metadata: ["pid": "\(child.pid)", "reason": "\(ending.name)"])
                killer.signalAll(SIGTERM)
                graceTimer = Task {
                    try await Task.sleep(nanoseconds: UInt64(max(0, grace) * 1e9))
                    sink.yield(.graceExpired)
                }
            case .graceExpired:
                if exit == nil {
                    logger.warning(
                        "stage ignored SIGTERM for its grace period; sending SIGKILL",
                        metadata: ["pid": "\(child.pid)"]
                    )
                    killer.signalAll(SIGKILL)
                }
            case .exited:
                graceTimer?.cancel()
                // Its last datagrams still pass the membership check while the leader is an unreaped zombie.
                await channel?.finish()
                // The leader is gone: nothing of the stage may outlive it. Its zombie still reserves the group id,
                // so killpg cannot hit an unrelated group that reused the number; reap it only afterwards.
                survivors = await killer.killRemaining()
                exit = child.reap()
                if let cgroup {
                    usage = cgroup.usage()
                    if survivors.isEmpty { cgroup.remove() }
                }
                if !survivors.isEmpty {
                    logger.error("stage processes survived SIGKILL", metadata: ["pids": "\(survivors)"])
                }
                if openPipes > 0 {
                    // Every writer is dead, so EOF is imminent; bound the wait in case a descriptor leaked elsewhere.
                    drainTimer = Task {
                        try await Task.sleep(nanoseconds: 2_000_000_000)
                        collector.capture?.forceClose()
                    }
                }
            case .outputClosed:
                openPipes -= 1
            }
            if exit != nil && openPipes == 0 { break }
        }
        sink.finish()
        let wall = Int64((MonotonicClock.nanoseconds() - startNanos) / 1_000_000)
        let stats = collector.stats()
        return StageRunResult(
            ending: ending,
            exit: exit ?? ExitInfo(exitCode: nil, signal: nil),
            wallMilliseconds: wall,
            outputLines: stats.lines,
            outputBytes: stats.bytes,
            excerpt: stats.excerpt,
            survivors: survivors,
            cgroupUsage: usage,
            progress: channel?.progress
        )
    }

    /// Seconds since the stage started.
    public var elapsedSeconds: Double { Double(MonotonicClock.nanoseconds() - startNanos) / 1e9 }
}

extension RunningStage.Event {
    /// How a stage ends when this event makes the supervisor terminate it.
    var ending: StageEnding {
        switch self {
        case .timeout: return .timedOut
        case .watchdogExpired: return .hung
        default: return .stopped
        }
    }
}

/// Counts and keeps the tail of a stage's output. The reader thread calls `handle` for stdout and stderr batches in
/// the order the pipes became readable; the lock makes the output handler (log file, journald, followers) see one
/// batch at a time, in one order for every consumer.
final class OutputCollector: @unchecked Sendable {
    private struct Tally {
        var tail = OutputTail()
        var lines: Int64 = 0
        var bytes: Int64 = 0
    }

    private let onOutput: OutputHandler
    private let tally = Mutex(Tally())
    /// Set once in `RunningStage.init`, before the reader starts.
    var capture: OutputCapture?

    init(onOutput: @escaping OutputHandler) { self.onOutput = onOutput }

    func handle(_ batch: OutputBatch) {
        tally.withLock { tally in
            tally.lines += Int64(batch.lineCount)
            tally.bytes += Int64(batch.bytes.count)
            tally.tail.append(batch.bytes)
            onOutput(batch)
        }
    }

    func stats() -> (lines: Int64, bytes: Int64, excerpt: String) {
        tally.withLock { ($0.lines, $0.bytes, $0.tail.excerpt(lines: 20)) }
    }
}
