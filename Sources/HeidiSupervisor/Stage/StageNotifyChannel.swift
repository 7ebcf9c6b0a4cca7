import CHeidiShim
import HeidiCore
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A stage's progress channel: a datagram socket in sd_notify format whose address the stage gets as
/// `HEIDI_NOTIFY_SOCKET`. One thread blocks in poll(2) on it (no wake-ups while the stage is quiet), accepts
/// datagrams only from the stage's own processes (SCM_CREDENTIALS: same user or root, and a member of the stage's
/// tree), and keeps the running totals in a `StageProgress`.
///
/// With `watchdog`, the stage must send `WATCHDOG=1` at least that often (the first one within that time of its
/// start); otherwise `onWatchdogExpired` runs once and the stage is treated as hung.
public final class StageNotifyChannel: Sendable {
    /// What the stage sees in `HEIDI_NOTIFY_SOCKET`: a path, or `@name` in the abstract namespace.
    public let address: String
    private let fd: Int32
    private let wake = WakePipe()
    private let watchdog: Double?
    private let logger: Logger
    private let shared: Mutex<Shared>
    /// The reader has stopped (`done`), or who waits for it to (`waiter`).
    private let ending = Mutex<(done: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    private struct Shared {
        var progress = StageProgress()
        var isMember: (@Sendable (Int32) -> Bool)?
        var onStatusChange: (@Sendable () -> Void)?
        var onWatchdogExpired: (@Sendable () -> Void)?
        var watchdogDeadline: UInt64?
        var refusalsLogged = 0
        /// Senders already found to belong to the stage, with their start time (`/proc/PID/stat` field 22).
        var members: [Int32: UInt64] = [:]
    }

    /// Status changes reach the engine at most this often (the latest text always arrives).
    static let statusInterval: UInt64 = 200_000_000
    /// Largest datagram read; longer ones are refused.
    static let maxDatagram = 64 * 1024

    /// The channel's name for a stage instance (its `HEIDI_STAGE_INSTANCE` token).
    public static func name(forInstance token: String) -> String { "stage-\(token.prefix(16))" }

    /// Removes the socket the channel of stage instance `token` left in `directory` when its daemon was killed before
    /// it could (kill -9); true when there was one. Nothing else removes it: the next stage has another name.
    public static func removeLeftover(directory: String, instance token: String) -> Bool {
        unlink(path(directory: directory, name: name(forInstance: token))) == 0
    }

    private static func path(directory: String, name: String) -> String { "\(directory)/\(name).notify" }

    /// Binds the socket as `<directory>/<name>.notify`, or in the abstract namespace when that path is too long for
    /// an AF_UNIX address.
    public init(directory: String, name: String, watchdog: Double?, logger: Logger) throws(ProgressChannelError) {
        let candidates = [Self.path(directory: directory, name: name), "@heidi/\(getpid())/\(name)"]
        var bound: (Int32, String)?
        var failure = ""
        for candidate in candidates {
            if !candidate.hasPrefix("@") { unlink(candidate) }
            let fd = heidi_bind_datagram(candidate)
            if fd >= 0 {
                bound = (fd, candidate)
                break
            }
            failure += "\(candidate): \(String(cString: strerror(errno))); "
        }
        guard let (fd, address) = bound else {
            throw ProgressChannelError(
                description: "cannot create the stage's progress channel (\(failure.dropLast(2)))"
            )
        }
        if !address.hasPrefix("@") { chmod(address, 0o600) }
        self.fd = fd
        self.address = address
        self.watchdog = watchdog
        self.logger = logger
        shared = Mutex(Shared())
    }

    /// Starts listening. `isMember` decides whether a sender pid belongs to the stage.
    public func start(
        isMember: @escaping @Sendable (Int32) -> Bool,
        onStatusChange: @escaping @Sendable () -> Void,
        onWatchdogExpired: @escaping @Sendable () -> Void
    ) {
        shared.withLock { shared in
            shared.isMember = isMember
            shared.onStatusChange = onStatusChange
            shared.onWatchdogExpired = onWatchdogExpired
            shared.watchdogDeadline = nextWatchdogDeadline()
        }
        startThread { [self] in run() }
    }

    /// What the stage has reported so far.
    public var progress: StageProgress { shared.withLock { $0.progress } }

    /// Reads what is still queued, stops the thread and removes the socket. Call before reaping the stage's
    /// leader, so its last datagrams still pass the membership check.
    public func finish() async {
        await withCheckedContinuation { continuation in
            let alreadyDone = ending.withLock { ending -> Bool in
                if !ending.done { ending.waiter = continuation }
                return ending.done
            }
            if alreadyDone { continuation.resume() } else { wake.wake() }
        }
    }

    /// When the next `WATCHDOG=1` is due (nil: the stage has no watchdog).
    private func nextWatchdogDeadline() -> UInt64? {
        watchdog.map { MonotonicClock.nanoseconds() + UInt64(max(0, $0) * 1e9) }
    }

    /// Milliseconds for poll(2) until `deadline` (rounded up, so the wake-up is never early).
    private static func milliseconds(until deadline: UInt64, from now: UInt64) -> Int32 {
        Int32(clamping: deadline > now ? (deadline - now) / 1_000_000 + 1 : 0)
    }

    /// Closes and removes a channel that was never started (its stage could not be spawned).
    public func discard() {
        close(fd)
        removeAddress()
    }

    private func removeAddress() {
        if !address.hasPrefix("@") { unlink(address) }
    }

    private func run() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.maxDatagram, alignment: 16)
        defer { buffer.deallocate() }
        var lastStatusSignal: UInt64 = 0
        var statusPending = false
        var fds = [
            pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wake.readEnd, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let now = MonotonicClock.nanoseconds()
            var timeout: Int32 = -1
            if let deadline = shared.withLock({ $0.watchdogDeadline }) {
                timeout = Self.milliseconds(until: deadline, from: now)
            }
            if statusPending {
                let wait = Self.milliseconds(until: lastStatusSignal + Self.statusInterval, from: now)
                timeout = timeout < 0 ? wait : min(timeout, wait)
            }
            fds[0].revents = 0
            fds[1].revents = 0
            let rc = poll(&fds, 2, timeout)
            if rc < 0 && errno == EINTR { continue }
            let stopping = fds[1].revents != 0
            if drain(buffer) { statusPending = true }
            let after = MonotonicClock.nanoseconds()
            checkWatchdog(now: after)
            if statusPending && (stopping || after >= lastStatusSignal + Self.statusInterval) {
                statusPending = false
                lastStatusSignal = after
                shared.withLock { $0.onStatusChange }?()
            }
            if stopping { break }
        }
        close(fd)
        removeAddress()
        let waiter = ending.withLock { ending -> CheckedContinuation<Void, Never>? in
            ending.done = true
            defer { ending.waiter = nil }
            return ending.waiter
        }
        waiter?.resume()
    }

    /// Reads every queued datagram. Returns true when the status text changed.
    private func drain(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var statusChanged = false
        while true {
            var truncated: Int32 = 0
            var pid: pid_t = 0
            var uid: uid_t = 0
            let n = heidi_recv_with_credentials(fd, buffer.baseAddress, buffer.count, &truncated, &pid, &uid)
            if n < 0 {
                if errno == EINTR { continue }
                return statusChanged
            }
            if let refusal = refusal(pid: pid, uid: uid, truncated: truncated != 0) {
                refuse(refusal, pid: pid)
                continue
            }
            let notification = StageNotification.parse(Array(UnsafeRawBufferPointer(rebasing: buffer[0..<n])))
            let (problems, changed) = shared.withLock { shared -> ([String], Bool) in
                let before = shared.progress.status
                let problems = shared.progress.apply(notification)
                if notification.watchdogPing, watchdog != nil { shared.watchdogDeadline = nextWatchdogDeadline() }
                if notification.watchdogTrigger { shared.watchdogDeadline = 0 }
                return (
                    problems, shared.progress.status != before || notification.ready || !notification.scalars.isEmpty
                )
            }
            if changed { statusChanged = true }
            for problem in problems.prefix(3) {
                logger.warning("progress channel: \(problem)", metadata: ["pid": "\(pid)"])
            }
        }
    }

    /// Why a datagram is refused, or nil to accept it. A sender that is gone (its parent already reaped it, e.g. a
    /// child of a shell leader that sent its last datagram and exited) is accepted only if it was found to be a
    /// member while it ran: its pid cannot have been reused by a process that is gone as well.
    private func refusal(pid: pid_t, uid: uid_t, truncated: Bool) -> String? {
        if truncated { return "datagram longer than \(Self.maxDatagram) bytes" }
        if pid <= 0 { return "no sender credentials (the sender may have exited)" }
        if uid != geteuid() && uid != 0 { return "sender runs as uid \(uid)" }
        let (isMember, known) = shared.withLock { ($0.isMember, $0.members[pid]) }
        guard let info = ProcessTable.info(pid) else {
            return known != nil ? nil : "sender is gone and was not seen as a process of this stage"
        }
        if known == info.startTicks { return nil }
        guard let isMember, isMember(pid) else { return "sender is not a process of this stage" }
        shared.withLock { $0.members[pid] = info.startTicks }
        return nil
    }

    private func refuse(_ reason: String, pid: pid_t) {
        let shouldLog = shared.withLock { shared -> Bool in
            shared.progress.refused += 1
            shared.refusalsLogged += 1
            return shared.refusalsLogged <= 5
        }
        if shouldLog { logger.warning("progress channel: refused a datagram: \(reason)", metadata: ["pid": "\(pid)"]) }
    }

    /// Fires the watchdog once its deadline has passed.
    private func checkWatchdog(now: UInt64) {
        let expired = shared.withLock { shared -> (@Sendable () -> Void)? in
            guard let deadline = shared.watchdogDeadline, now >= deadline else { return nil }
            shared.watchdogDeadline = nil
            return shared.onWatchdogExpired
        }
        expired?()
    }
}

/// The progress channel's socket could not be created (named in the description, with the reason).
public struct ProgressChannelError: Error, CustomStringConvertible, Sendable {
    public var description: String
}
