#if canImport(Glibc)
import Glibc
#endif
import CHeidiShim
import HeidiCore
import Synchronization

/// What one pipe reader has done, so tests (and curious operators) can see that it never spins.
public struct ReaderActivity: Sendable, Equatable {
    public var stream: OutputStream
    /// The reader's kernel thread id (`/proc/self/task/<id>`), 0 until the thread runs.
    public var threadID: Int32 = 0
    /// How often poll(2) returned: once per burst of output, once at end of file; never while the pipe is quiet.
    public var wakeups = 0
    /// CPU time the reader thread had used at its last wake-up (or at exit), measured by the thread itself.
    public var cpuNanoseconds: UInt64 = 0
    /// End of file seen (or reading stopped) and the thread has ended.
    public var finished = false
}

/// Reads one child pipe on its own thread, blocked in poll(2) until data or hang-up arrives, assembles and redacts
/// lines, and hands over one `OutputBatch` per burst. After EOF (or `forceClose`) the thread ends, so a hung-up
/// pipe never spins; a pipe that stays open but quiet costs nothing.
final class OutputCapture: Sendable {
    /// Bytes per read(2); the pipe itself is grown to 1 MiB so a fast writer blocks less often.
    static let readSize = 256 * 1024
    private static let pipeSize: Int32 = 1 << 20
    /// A wake-up that finds at least this much is part of a flood: the batch keeps its storage for the next one
    /// (unless a consumer still holds it), even when the reader has caught up and its last read came back short.
    /// Letting a megabyte go and taking it back at every wake-up made the kernel unmap and fault in its pages each
    /// time: ~750 page faults per 280 MB, each far dearer in a VM whose free memory goes back to the host. Smaller
    /// wake-ups let the storage go, so a quiet or trickling stage holds no buffer.
    private static let floodBurst = 64 * 1024

    let stream: OutputStream
    private let fd: Int32
    private let pid: Int32
    private let wake = WakePipe()
    private let deliver: @Sendable (OutputBatch) -> Void
    private let tap: OutputTap?
    private let onClose: @Sendable () -> Void
    private let activity: Mutex<ReaderActivity>
    private let pipeCapacity: Int

    init(fd: Int32, stream: OutputStream, pid: Int32, tap: OutputTap? = nil, deliver: @escaping @Sendable (OutputBatch) -> Void,
         onClose: @escaping @Sendable () -> Void) {
        self.tap = tap
        self.fd = fd
        self.pid = pid
        self.stream = stream
        self.deliver = deliver
        self.onClose = onClose
        activity = Mutex(ReaderActivity(stream: stream))
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        // Best effort: unprivileged users may be capped lower (then the kernel's default, 64 KiB, stays).
        let size = heidi_set_pipe_size(fd, Self.pipeSize)
        pipeCapacity = size > 0 ? Int(size) : 64 * 1024
    }

    func start() { startThread { [self] in run() } }

    /// Stops reading (used when a pipe stays open after the whole stage was killed, e.g. held by an escaped process).
    func forceClose() { wake.wake() }

    var currentActivity: ReaderActivity { activity.withLock { $0 } }

    private func run() {
        activity.withLock { $0.threadID = heidi_gettid() }
        var assembler = LineAssembler()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readSize, alignment: 16)
        defer { buffer.deallocate() }
        var batch = OutputBatch(stream: stream)
        var drained = MonotonicClock.nanoseconds()
        reading: while waitReadable(fd, orWake: wake) {
            let cpu = Self.threadCPUNanoseconds()
            activity.withLock { $0.wakeups += 1; $0.cpuNanoseconds = cpu }
            var burst = 0
            draining: while true {
                let n = read(fd, buffer.baseAddress, buffer.count)
                if n > 0 {
                    tap?(stream, UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                    burst += n
                    // A flood fills batches of up to four reads: size the storage once, not by repeated growth.
                    if burst >= Self.floodBurst && batch.bytes.capacity < 5 * Self.readSize {
                        batch.bytes.reserveCapacity(5 * Self.readSize)
                    }
                    assembler.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), into: &batch)
                    if n == buffer.count && batch.bytes.count < 4 * Self.readSize { continue }  // more is waiting
                    break draining
                }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break draining }
                break reading  // EOF or a read error
            }
            flush(&batch, keepStorage: burst >= Self.floodBurst)
            coalesce(burst: burst, since: &drained)
        }
        assembler.finish(into: &batch)
        flush(&batch, keepStorage: false)
        close(fd)
        let cpu = Self.threadCPUNanoseconds()
        activity.withLock { $0.cpuNanoseconds = cpu; $0.finished = true }
        onClose()
    }

    private func flush(_ batch: inout OutputBatch, keepStorage: Bool) {
        guard batch.lineCount > 0 else { return }
        batch.pid = pid
        deliver(batch)
        if keepStorage {
            batch.bytes.removeAll(keepingCapacity: true)
            batch.lineCount = 0
        } else {
            batch = OutputBatch(stream: stream)
        }
    }

    /// When output trickles, let it gather for a millisecond before the next poll: a child writing a line at a
    /// time then costs one wake-up per millisecond instead of one per line, and its output is delayed by at most
    /// that. Not when it floods: at more than a quarter of the pipe per millisecond the pause could fill the pipe
    /// and stall the writer, so the reader goes straight back to reading.
    private func coalesce(burst: Int, since drained: inout UInt64) {
        let elapsed = max(1, MonotonicClock.nanoseconds() - drained)
        if UInt64(burst) * 1_000_000 / elapsed < UInt64(pipeCapacity / 4) {
            var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
            nanosleep(&pause, nil)
        }
        drained = MonotonicClock.nanoseconds()
    }

    static func threadCPUNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
