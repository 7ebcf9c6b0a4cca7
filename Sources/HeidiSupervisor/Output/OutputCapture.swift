import CHeidiShim
import HeidiCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What the reader has done for one pipe, so tests (and curious operators) can see that it never spins.
public struct ReaderActivity: Sendable, Equatable {
    public var stream: OutputStream
    /// The reader's kernel thread id (`/proc/self/task/<id>`), 0 until the thread runs. Both pipes of a stage share
    /// one reader thread.
    public var threadID: Int32 = 0
    /// How often the reader woke up for this pipe: once per burst of output, once at end of file; never while the
    /// pipe is quiet.
    public var wakeups = 0
    /// CPU time the reader thread had used at this pipe's last wake-up (or at its end), measured by the thread itself.
    public var cpuNanoseconds: UInt64 = 0
    /// Pauses this pipe spent out of the epoll set while it streamed (`OutputCapture.pause`).
    public var streamingPauses = 0
    /// End of file seen (or reading stopped): the pipe is closed.
    public var finished = false
    /// Bytes read from the pipe, as of the last drain.
    public var readBytes = 0
    /// Bytes of output the reader copied in user space (`LineAssembler.copiedBytes`): for a flood of clean lines
    /// only the lines the reads split, since they are read straight into the batch they are delivered in.
    public var copiedBytes = 0
}

/// Reads a child's stdout and stderr on one thread, blocked in epoll_wait(2) until data or hang-up arrives,
/// assembles and redacts lines, and hands over one `OutputBatch` per pipe and burst.
///
/// **Order across the two pipes.** Two pipes carry no common sequence: all the kernel can tell is the order in
/// which they became readable. An edge-triggered epoll set reports exactly that (its ready list is kept in the
/// order of the wake-ups, and a drained pipe goes back on it only at its next write), so the reader drains the
/// pipes in the order they are reported and delivers their lines in that order, from one thread. Lines a child
/// writes to both streams faster than the reader wakes up (tens of microseconds) can still come out grouped by
/// stream; nothing can know their order then. The trickle pause (`pause`) gathers one stream only: it is not
/// taken after a wake-up that found both, and output on the other pipe ends it at once.
///
/// After both pipes hang up (or `forceClose`) the thread ends, so a hung-up pipe never spins; a pipe that stays
/// open but quiet costs nothing.
final class OutputCapture: Sendable {
    /// Bytes per read(2); the pipes themselves are grown to 1 MiB so a fast writer blocks less often.
    static let readSize = 256 * 1024
    private static let pipeSize: Int32 = 1 << 20
    /// A wake-up that finds at least this much is part of a flood: the next one reads straight into a batch of
    /// `batchReads` reads (`LineAssembler.fill`). Smaller wake-ups read into the reader's buffer and copy what they
    /// found, so a quiet or trickling stage allocates no megabyte per wake-up and holds no buffer.
    private static let floodBurst = 64 * 1024
    /// A wake-up of a trickle that finds at least this much (a line every few microseconds) pauses with its pipe
    /// out of the epoll set (`pause`).
    private static let streamingBurst = 32 * 1024
    /// Reads per batch in a flood: one `write(2)` of the log file per megabyte.
    private static let batchReads = 4
    /// Index of each pipe in `fds`, `activity` and the epoll ids; the wake pipe is reported as `wakeID`.
    private static let streams: [OutputStream] = [.stdout, .stderr]
    private static let wakeID: UInt32 = 2

    private let fds: [Int32]
    private let pid: Int32
    private let wake = WakePipe()
    private let deliver: @Sendable (OutputBatch) -> Void
    private let tap: OutputTap?
    private let onClose: @Sendable (OutputStream) -> Void
    private let activity: Mutex<[ReaderActivity]>
    private let pipeCapacity: Int

    /// `deliver` gets every batch, from the reader thread, in the order described above; `onClose` is called once
    /// per pipe when it is done. `tap`, when given, sees every byte read, raw (before lines are split or redacted),
    /// in the order it was read.
    init(
        stdout: Int32,
        stderr: Int32,
        pid: Int32,
        tap: OutputTap? = nil,
        deliver: @escaping @Sendable (OutputBatch) -> Void,
        onClose: @escaping @Sendable (OutputStream) -> Void
    ) {
        fds = [stdout, stderr]
        self.tap = tap
        self.pid = pid
        self.deliver = deliver
        self.onClose = onClose
        activity = Mutex(Self.streams.map { ReaderActivity(stream: $0) })
        var capacity = Int.max
        for fd in fds {
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            // Best effort: unprivileged users may be capped lower (then the kernel's default, 64 KiB, stays).
            let size = heidi_set_pipe_size(fd, Self.pipeSize)
            capacity = min(capacity, size > 0 ? Int(size) : 64 * 1024)
        }
        pipeCapacity = capacity
    }

    func start() { startThread { [self] in run() } }

    /// Stops reading (used when a pipe stays open after the whole stage was killed, e.g. held by an escaped process).
    func forceClose() { wake.wake() }

    var currentActivity: [ReaderActivity] { activity.withLock { $0 } }

    /// One pipe's reading state.
    private struct Pipe {
        let stream: OutputStream
        let fd: Int32
        var assembler = LineAssembler()
        var batch: OutputBatch
        var open = true
        /// The last drain found a flood: read the next one straight into its batch.
        var flooding = false
        var readBytes = 0
        /// The writer side was reported closed: read on to end of file even after a short read.
        var hungUp = false

        init(stream: OutputStream, fd: Int32) {
            self.stream = stream
            self.fd = fd
            batch = OutputBatch(stream: stream)
        }
    }

    /// How one drain of a pipe ended.
    private enum Drained {
        /// The pipe is empty for now (a short read or EAGAIN).
        case empty
        /// The batch is full and more may be waiting: drain it again before sleeping.
        case more
        /// End of file, or a read error.
        case closed
    }

    private func run() {
        let tid = heidi_gettid()
        activity.withLock { for index in $0.indices { $0[index].threadID = tid } }
        var pipes = Self.streams.indices.map { Pipe(stream: Self.streams[$0], fd: fds[$0]) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readSize, alignment: 16)
        defer { buffer.deallocate() }
        var epoll = heidi_epoll_create()
        defer { if epoll >= 0 { close(epoll) } }
        // Edge-triggered: a pipe is reported again only when written after it was drained, so the report order is
        // the order in which the pipes became readable. Level-triggered would report them in the order of the last
        // report, whatever came first since.
        for (index, pipe) in pipes.enumerated() { _ = heidi_epoll_add(epoll, pipe.fd, UInt32(index), 1) }
        _ = heidi_epoll_add(epoll, wake.readEnd, Self.wakeID, 1)
        var queue: [Int] = []  // pipes to drain, in the order they became readable
        var ids = [UInt32](repeating: 0, count: 4)
        var hangUps = [Int32](repeating: 0, count: 4)
        var drained = MonotonicClock.nanoseconds()
        reading: while pipes.contains(where: \.open) {
            let timeout: Int32 = queue.isEmpty ? -1 : 0
            let count =
                epoll >= 0
                ? heidi_epoll_wait(epoll, &ids, &hangUps, Int32(ids.count), timeout)
                : pollReady(pipes, into: &ids, hangUps: &hangUps, timeout: timeout)
            if count < 0 {
                if errno == EINTR { continue }
                break reading
            }
            for (id, hungUp) in zip(ids[0..<Int(count)], hangUps) {
                if id == Self.wakeID { break reading }
                let index = Int(id)
                if hungUp != 0 { pipes[index].hungUp = true }
                if pipes[index].open && !queue.contains(index) { queue.append(index) }
            }
            guard !queue.isEmpty else { continue }
            let cpu = Self.threadCPUNanoseconds()
            activity.withLock { activity in
                for index in queue {
                    activity[index].wakeups += 1
                    activity[index].cpuNanoseconds = cpu
                }
            }
            var burst = 0
            var again: [Int] = []
            var talked: [Int] = []
            for index in queue {
                let (bytes, ending) = drain(&pipes[index], buffer)
                burst += bytes
                if bytes > 0 { talked.append(index) }
                pipes[index].flooding = bytes >= Self.floodBurst
                pipes[index].readBytes += bytes
                flush(&pipes[index].batch)
                switch ending {
                case .empty: break
                case .more: again.append(index)
                case .closed: end(&pipes[index], epoll: epoll)
                }
            }
            queue = again
            activity.withLock { activity in
                for index in talked {
                    activity[index].readBytes = pipes[index].readBytes
                    activity[index].copiedBytes = pipes[index].assembler.copiedBytes
                }
            }
            // The time a burst took to gather runs from the end of the previous drain, across any pause: measured
            // from after the pause, what gathered during it looked like a flood, and every other wake-up skipped it.
            let previousDrain = drained
            drained = MonotonicClock.nanoseconds()
            if queue.isEmpty && talked.count == 1 && pipes[talked[0]].open && trickles(burst, since: previousDrain) {
                let talking = talked[0]
                let quiet = pipes.indices.filter { pipes[$0].open && $0 != talking }.map { pipes[$0].fd }
                // A streaming pipe gathers out of the epoll set, and is drained first after the pause (`pause`).
                let leaves =
                    burst >= Self.streamingBurst && epoll >= 0 && heidi_epoll_remove(epoll, pipes[talking].fd) == 0
                if leaves { activity.withLock { $0[talking].streamingPauses += 1 } }
                pause(watching: quiet)
                if leaves {
                    if heidi_epoll_add(epoll, pipes[talking].fd, UInt32(talking), 1) != 0 {
                        close(epoll)  // not back in the set: poll(2) from now on (`pollReady`), nothing is lost
                        epoll = -1
                    }
                    queue = [talking]
                }
            }
        }
        for index in pipes.indices where pipes[index].open { end(&pipes[index], epoll: epoll) }
    }

    /// Without an epoll set (epoll_create1 failed: out of descriptors), poll(2) says which pipes are readable, in
    /// pipe order: no output is lost, only the order across the two streams is coarser. Returns the count of `ids`.
    private func pollReady(_ pipes: [Pipe], into ids: inout [UInt32], hangUps: inout [Int32], timeout: Int32) -> Int32 {
        var watched = pipes.indices.filter { pipes[$0].open }.map { UInt32($0) }
        var fds = watched.map { pollfd(fd: pipes[Int($0)].fd, events: Int16(POLLIN), revents: 0) }
        watched.append(Self.wakeID)
        fds.append(pollfd(fd: wake.readEnd, events: Int16(POLLIN), revents: 0))
        let rc = poll(&fds, nfds_t(fds.count), timeout)
        guard rc > 0 else { return rc }
        var count = 0
        for (id, fd) in zip(watched, fds) where fd.revents != 0 && count < ids.count {
            ids[count] = id
            hangUps[count] = fd.revents & Int16(POLLHUP | POLLERR) != 0 ? 1 : 0
            count += 1
        }
        return Int32(count)
    }

    /// Reads `pipe` until it is empty (a short read, or EAGAIN), closed, or its batch is full (a flood: up to four
    /// reads per batch). A short read leaves the pipe empty, so the next write is a new edge; only a hang-up
    /// already reported (it came with the data, in the same edge) makes the reader go on to end of file. Reading on
    /// after every short read cost a third more CPU per MB on a text flood: tiny reads of what arrived meanwhile,
    /// each ending inside a line. In a flood the reads go straight into the batch (`LineAssembler.fill`); what
    /// `fill` hands back (a line that needs redaction, decoding or a cut) is read on into `buffer` and fed.
    private func drain(_ pipe: inout Pipe, _ buffer: UnsafeMutableRawBufferPointer) -> (bytes: Int, ending: Drained) {
        var total = 0
        var ending: Drained?
        let (fd, stream, hungUp) = (pipe.fd, pipe.stream, pipe.hungUp)
        if pipe.flooding {
            var reads = 0
            pipe.assembler.fill(&pipe.batch, capacity: Self.batchReads * Self.readSize) { space in
                guard ending == nil else { return 0 }
                let (n, end) = Self.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: space.prefix(Self.readSize)))
                guard n > 0 else {
                    ending = end
                    return 0
                }
                tap?(stream, UnsafeRawBufferPointer(rebasing: space[0..<n]))
                total += n
                reads += 1
                if n < Self.readSize && !hungUp {
                    ending = .empty
                } else if reads == Self.batchReads {
                    ending = .more
                }
                return n
            }
        }
        while ending == nil {
            let (n, end) = Self.read(fd, into: buffer)
            guard n > 0 else { return (total, end) }
            tap?(stream, UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += n
            // A flood fills batches of up to four reads: size the storage once, not by repeated growth.
            if total >= Self.floodBurst && pipe.batch.bytes.capacity < (Self.batchReads + 1) * Self.readSize {
                pipe.batch.bytes.reserveCapacity((Self.batchReads + 1) * Self.readSize)
            }
            pipe.assembler.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), into: &pipe.batch)
            if pipe.batch.bytes.count >= Self.batchReads * Self.readSize { return (total, .more) }
            if n < buffer.count && !hungUp { return (total, .empty) }
        }
        return (total, ending ?? .empty)
    }

    /// One read(2) of `fd` into `space`, again after EINTR: the count read, or 0 and how the drain ends (EAGAIN:
    /// empty for now; end of file or an error: closed).
    private static func read(_ fd: Int32, into space: UnsafeMutableRawBufferPointer) -> (Int, Drained) {
        while true {
            let n = Glibc.read(fd, space.baseAddress, space.count)
            if n > 0 { return (n, .more) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return (0, .empty) }
            return (0, .closed)
        }
    }

    /// End of a pipe: its unterminated rest, then close and tell.
    private func end(_ pipe: inout Pipe, epoll: Int32) {
        pipe.assembler.finish(into: &pipe.batch)
        flush(&pipe.batch)
        if epoll >= 0 { _ = heidi_epoll_remove(epoll, pipe.fd) }
        close(pipe.fd)
        pipe.open = false
        let cpu = Self.threadCPUNanoseconds()
        let index = pipe.stream == .stdout ? 0 : 1
        activity.withLock {
            $0[index].cpuNanoseconds = cpu
            $0[index].finished = true
            $0[index].readBytes = pipe.readBytes
            $0[index].copiedBytes = pipe.assembler.copiedBytes
        }
        onClose(pipe.stream)
    }

    /// Delivers the batch and starts an empty one: the next flood batch is a new array read into (`fill`), so the
    /// consumers own what they were given.
    private func flush(_ batch: inout OutputBatch) {
        guard batch.lineCount > 0 else { return }
        batch.pid = pid
        deliver(batch)
        batch = OutputBatch(stream: batch.stream)
    }

    /// Whether output trickles (less than a quarter of the pipe per millisecond since the last drain), so that the
    /// reader may let it gather (`pause`). When it floods, the pause could fill the pipe and stall the writer: the
    /// reader goes straight back to reading.
    private func trickles(_ burst: Int, since drained: UInt64) -> Bool {
        let elapsed = max(1, MonotonicClock.nanoseconds() - drained)
        return UInt64(burst) * 1_000_000 / elapsed < UInt64(pipeCapacity / 4)
    }

    /// Lets trickling output gather for a millisecond before the next wait: a child writing a line at a time then
    /// costs one wake-up per millisecond instead of one per line, and its output is delayed by at most that. The
    /// pause watches the `quiet` pipes (and the wake pipe): output there ends it at once, so lines of the other
    /// stream are never merged across it.
    ///
    /// Whether the pipe that talked stays in the epoll set meanwhile depends on how fast it talks:
    /// - A pipe that gathered less than `streamingBurst` stays in the set, so the set's ready list records
    ///   whether its next output came before or after the other stream's (a child alternating streams line by line
    ///   keeps its order, however late the reader wakes).
    /// - A streaming pipe leaves the set for the pause and is drained first after it: once a pipe has been polled,
    ///   the kernel wakes its waiters at every write, not only at the first into an empty pipe, so each line the
    ///   child wrote into a watched pipe paid for an epoll callback, and a child writing one line per write(2) ran
    ///   a tenth slower than under a poll(2) reader (contrib/bench/README.md). What that gives up: output on the
    ///   other stream written after the drain but before the streaming pipe's next line (microseconds, as it
    ///   streams) comes out after that line; in the set it would come first. Lines of the streaming pipe written
    ///   after the other stream's come out before it either way, since a drain reads all a pipe holds.
    private func pause(watching quiet: [Int32]) {
        var fds = quiet.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        fds.append(pollfd(fd: wake.readEnd, events: Int16(POLLIN), revents: 0))
        _ = poll(&fds, nfds_t(fds.count), 1)
    }

    static func threadCPUNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
