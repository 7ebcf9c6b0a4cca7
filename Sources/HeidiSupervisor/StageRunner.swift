#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import HeidiCore
import Logging

/// How a stage run ended.
public struct StageRunResult: Sendable, Equatable {
    public enum Ending: String, Sendable, Equatable {
        /// The leader exited by itself (with any status).
        case exited
        /// Killed after exceeding its timeout.
        case timedOut
        /// Terminated because stop was requested.
        case stopped
    }

    public var ending: Ending
    public var exit: ExitInfo
    public var wallMilliseconds: Int64
    public var outputLines: Int64
    public var outputBytes: Int64
    /// The last lines of output (stdout and stderr), for the failure excerpt.
    public var excerpt: String
    /// Pids that could not be killed (should always be empty).
    public var survivors: [Int32]
}

/// Receives each output line of a running stage (log file, journald, followers). Called from a dispatch queue.
public typealias OutputLineHandler = @Sendable (OutputLine) -> Void

/// Runs one stage as a supervised child: spawn, capture output, enforce the timeout, honour stop requests with
/// TERM → grace → KILL, and leave no process of the stage behind.
public final class RunningStage: @unchecked Sendable {
    public let child: ChildProcess
    public let startedAt: Timestamp
    private let startNanos: UInt64
    private let events: AsyncStream<Event>
    private let sink: AsyncStream<Event>.Continuation
    private let killer: TreeKiller
    private let timeout: Double
    private let grace: Double
    private let logger: Logger
    private let collector: OutputCollector

    enum Event: Sendable {
        /// The leader exited; it is still an unreaped zombie.
        case exited
        case timeout
        case stop
        case graceExpired
        case outputClosed
    }

    /// Spawns the stage. `onLine` sees every (redacted) output line; the log file is written by the caller's handler.
    public static func start(
        _ spec: LaunchSpec, instanceToken: String, timeout: Double, grace: Double, logger: Logger,
        onLine: @escaping OutputLineHandler
    ) throws(SpawnError) -> RunningStage {
        var spec = spec
        spec.environment["HEIDI_STAGE_INSTANCE"] = instanceToken
        let child = try ChildProcess.spawn(spec)
        return RunningStage(child: child, token: instanceToken, timeout: timeout, grace: grace, logger: logger, onLine: onLine)
    }

    private init(child: ChildProcess, token: String, timeout: Double, grace: Double, logger: Logger,
                 onLine: @escaping OutputLineHandler) {
        self.child = child
        self.startedAt = Timestamp.now()
        self.startNanos = MonotonicClock.nanoseconds()
        self.timeout = timeout
        self.grace = grace
        self.logger = logger
        self.killer = TreeKiller(leader: child.pid, instanceEntry: "HEIDI_STAGE_INSTANCE=\(token)")
        (events, sink) = AsyncStream.makeStream(of: Event.self)
        collector = OutputCollector(onLine: onLine)
        let sink = self.sink
        let collector = self.collector
        let streams = [(child.stdoutFD, OutputStream.stdout), (child.stderrFD, OutputStream.stderr)]
        collector.captures = streams.map { fd, stream in
            OutputCapture(fd: fd, stream: stream, onLine: { collector.handle($0) },
                          onClose: { sink.yield(.outputClosed) })
        }
        for capture in collector.captures { capture.start() }
        child.onExit { sink.yield(.exited) }
    }

    /// Asks the stage to stop: SIGTERM to the tree now, SIGKILL after the grace period.
    public func requestStop() { sink.yield(.stop) }

    /// Waits until the stage has ended and every process of it is gone, then reports how it ended.
    public func waitForEnd() async -> StageRunResult {
        let sink = self.sink
        let timer = Task {
            try await Task.sleep(nanoseconds: UInt64(max(0, timeout) * 1e9))
            sink.yield(.timeout)
        }
        defer { timer.cancel() }
        var ending = StageRunResult.Ending.exited
        var exit: ExitInfo?
        var openPipes = 2
        var graceTimer: Task<Void, Error>?
        var drainTimer: Task<Void, Error>?
        defer { graceTimer?.cancel(); drainTimer?.cancel() }
        var survivors: [Int32] = []

        for await event in events {
            switch event {
            case .timeout, .stop:
                guard exit == nil, ending == .exited else { continue }
                ending = event.isTimeout ? .timedOut : .stopped
                logger.info("stage terminating", metadata: ["pid": "\(child.pid)", "reason": "\(ending.rawValue)"])
                killer.signalAll(SIGTERM)
                graceTimer = Task {
                    try await Task.sleep(nanoseconds: UInt64(max(0, grace) * 1e9))
                    sink.yield(.graceExpired)
                }
            case .graceExpired:
                if exit == nil {
                    logger.warning("stage ignored SIGTERM for its grace period; sending SIGKILL", metadata: ["pid": "\(child.pid)"])
                    killer.signalAll(SIGKILL)
                }
            case .exited:
                graceTimer?.cancel()
                // The leader is gone: nothing of the stage may outlive it. Its zombie still reserves the group id,
                // so killpg cannot hit an unrelated group that reused the number; reap it only afterwards.
                survivors = await killer.killRemaining()
                exit = child.reap()
                if !survivors.isEmpty {
                    logger.error("stage processes survived SIGKILL", metadata: ["pids": "\(survivors)"])
                }
                if openPipes > 0 {
                    // Every writer is dead, so EOF is imminent; bound the wait in case a descriptor leaked elsewhere.
                    drainTimer = Task {
                        try await Task.sleep(nanoseconds: 2_000_000_000)
                        for capture in collector.captures { capture.forceClose() }
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
            ending: ending, exit: exit ?? ExitInfo(exitCode: nil, signal: nil), wallMilliseconds: wall,
            outputLines: stats.lines, outputBytes: stats.bytes, excerpt: stats.excerpt, survivors: survivors)
    }

    /// Seconds since the stage started.
    public var elapsedSeconds: Double { Double(MonotonicClock.nanoseconds() - startNanos) / 1e9 }
}

extension RunningStage.Event {
    var isTimeout: Bool { if case .timeout = self { return true }; return false }
}

/// Redacts, counts and keeps the tail of a stage's output. The stdout and stderr reader threads call `handle`;
/// the lock makes the line handler (log file, journald, followers) see one line at a time.
final class OutputCollector: @unchecked Sendable {
    private struct Tally {
        var ring = OutputRing()
        var lines: Int64 = 0
        var bytes: Int64 = 0
        var redactors: [OutputStream: LineRedactor] = [.stdout: LineRedactor(), .stderr: LineRedactor()]
    }

    private let onLine: OutputLineHandler
    private let tally = Mutex(Tally())
    /// Set once in `RunningStage.init`, before the readers start.
    var captures: [OutputCapture] = []

    init(onLine: @escaping OutputLineHandler) { self.onLine = onLine }

    func handle(_ raw: OutputLine) {
        tally.withLock { tally in
            var line = raw
            line.text = tally.redactors[line.stream, default: LineRedactor()].redact(line.text)
            tally.lines += 1
            tally.bytes += Int64(line.text.utf8.count + 1)
            tally.ring.append(line.text)
            onLine(line)
        }
    }

    func stats() -> (lines: Int64, bytes: Int64, excerpt: String) {
        tally.withLock { ($0.lines, $0.bytes, $0.ring.excerpt(lines: 20)) }
    }
}
