import HeidiCore
import HeidiSupervisor
import Synchronization

/// Where a forwarded line came from (becomes the journald fields of the line).
public struct ForwardedLineSource: Sendable, Equatable {
    public var stage: Stage
    public var round: Int
    public var runID: String?
    public var pid: Int32
    /// The stage's log file, named in the "not forwarded" notice.
    public var logPath: String

    public init(stage: Stage, round: Int, runID: String?, pid: Int32, logPath: String) {
        self.stage = stage
        self.round = round
        self.runID = runID
        self.pid = pid
        self.logPath = logPath
    }
}

/// Forwards child output lines to journald without ever slowing a stage down, and degrades visibly instead of
/// silently when there is too much.
///
/// journald rate-limits per service (by default 10 000 messages per 30 s) and then drops lines silently, including
/// the daemon's own event mirror. So each stage run gets a token bucket (`burst` lines, refilled at `perSecond`)
/// and lines over it are not sent; a sender thread does the `sd_journal_sendv` calls, so a slow or stuck journald
/// only fills a bounded queue (then lines are dropped too). Whenever lines were left out, one notice line says how
/// many and where the complete output is (the stage's log file, which always has every line).
public final class JournaldForwarder: Sendable {
    public struct Limits: Sendable, Equatable {
        public var burst: Int
        public var perSecond: Double
        /// Lines waiting for the sender thread; more are dropped.
        public var queueCapacity: Int

        public init(burst: Int = 2000, perSecond: Double = 100, queueCapacity: Int = 4096) {
            self.burst = burst
            self.perSecond = perSecond
            self.queueCapacity = queueCapacity
        }
    }

    public let limits: Limits
    private let send: @Sendable (OutputLine, ForwardedLineSource) -> Void
    private let lock = ConditionLock()
    private let queue = Mutex<(items: [(OutputLine, ForwardedLineSource)], senderRunning: Bool)>(([], false))

    public init(limits: Limits = Limits(), send: @escaping @Sendable (OutputLine, ForwardedLineSource) -> Void) {
        self.limits = limits
        self.send = send
    }

    /// A rate-limited feed for one stage run.
    public func feed(for source: ForwardedLineSource) -> JournaldFeed { JournaldFeed(forwarder: self, source: source) }

    /// Queues lines; returns how many did not fit. A notice (`notice`) always fits: it is what tells about the rest.
    func enqueue(_ lines: [OutputLine], from source: ForwardedLineSource, notice: Bool = false) -> Int {
        let (accepted, startSender) = lock.withLock {
            queue.withLock { state -> (Int, Bool) in
                let room = notice ? lines.count : max(0, limits.queueCapacity - state.items.count)
                let accepted = min(room, lines.count)
                state.items += lines.prefix(accepted).map { ($0, source) }
                let start = accepted > 0 && !state.senderRunning
                if start { state.senderRunning = true }
                return (accepted, start)
            }
        }
        if startSender {
            startThread { [self] in runSender() }
        } else if accepted > 0 {
            lock.withLock { lock.signal() }
        }
        return lines.count - accepted
    }

    /// Sends queued lines; sleeps on the condition while the queue is empty and ends after a quiet spell, so an idle
    /// daemon has no forwarding thread at all.
    private func runSender() {
        while true {
            let batch: [(OutputLine, ForwardedLineSource)] = lock.withLock {
                while true {
                    let items = queue.withLock { state -> [(OutputLine, ForwardedLineSource)]? in
                        if state.items.isEmpty { return nil }
                        defer { state.items.removeAll(keepingCapacity: true) }
                        return state.items
                    }
                    if let items { return items }
                    if !lock.wait(seconds: 5) {
                        let idle = queue.withLock { state -> Bool in
                            if state.items.isEmpty { state.senderRunning = false }
                            return !state.senderRunning
                        }
                        if idle { return [] }
                    }
                }
            }
            if batch.isEmpty { return }
            for (line, source) in batch { send(line, source) }
        }
    }
}

/// One stage run's journald feed: its token bucket and its count of lines left out.
public final class JournaldFeed: Sendable {
    private struct Bucket {
        var tokens: Double
        var refilledAt: UInt64
        /// Lines left out since the last notice.
        var unreported = 0
        var dropped = 0
    }

    private let forwarder: JournaldForwarder
    private let source: Mutex<ForwardedLineSource>
    private let bucket: Mutex<Bucket>

    init(forwarder: JournaldForwarder, source: ForwardedLineSource) {
        self.forwarder = forwarder
        self.source = Mutex(source)
        bucket = Mutex(Bucket(tokens: Double(forwarder.limits.burst), refilledAt: MonotonicClock.nanoseconds()))
    }

    /// The leader's pid, known only after the spawn.
    public func setPID(_ pid: Int32) { source.withLock { $0.pid = pid } }

    /// Lines of this run that were not sent to journald.
    public var droppedLines: Int { bucket.withLock { $0.dropped } }

    /// Offers a batch: the lines the bucket allows are queued (after a notice about earlier gaps), the rest counted.
    public func offer(_ batch: OutputBatch) {
        let limits = forwarder.limits
        let now = MonotonicClock.nanoseconds()
        let (allowed, notice) = bucket.withLock { bucket -> (Int, Int) in
            let elapsed = Double(now &- bucket.refilledAt) / 1e9
            bucket.tokens = min(Double(limits.burst), bucket.tokens + elapsed * limits.perSecond)
            bucket.refilledAt = now
            let allowed = min(batch.lineCount, Int(bucket.tokens))
            bucket.tokens -= Double(allowed)
            // Lines left out before this batch are announced where forwarding resumes.
            let notice = allowed > 0 ? bucket.unreported : 0
            if notice > 0 { bucket.unreported = 0 }
            bucket.unreported += batch.lineCount - allowed
            bucket.dropped += batch.lineCount - allowed
            return (allowed, notice)
        }
        let from = source.withLock { source in
            if batch.pid != 0 { source.pid = batch.pid }
            return source
        }
        if notice > 0 { _ = forwarder.enqueue([noticeLine(notice, from)], from: from, notice: true) }
        guard allowed > 0 else { return }
        let overflow = forwarder.enqueue(batch.lines(limit: allowed), from: from)
        if overflow > 0 {
            bucket.withLock {
                $0.dropped += overflow
                $0.unreported += overflow
            }
        }
    }

    /// The stage ended: report lines left out since the last notice.
    public func finish() {
        let notice = bucket.withLock { bucket -> Int in
            defer { bucket.unreported = 0 }
            return bucket.unreported
        }
        guard notice > 0 else { return }
        let from = source.withLock { $0 }
        _ = forwarder.enqueue([noticeLine(notice, from)], from: from, notice: true)
    }

    private func noticeLine(_ count: Int, _ from: ForwardedLineSource) -> OutputLine {
        let limits = forwarder.limits
        return OutputLine(
            stream: .stderr,
            text: "[heidid] \(count) line\(count == 1 ? "" : "s") of \(from.stage.rawValue) output "
                + "not sent to journald (limit \(limits.burst) lines, then \(Int(limits.perSecond))/s); every line is in \(from.logPath)"
        )
    }
}
