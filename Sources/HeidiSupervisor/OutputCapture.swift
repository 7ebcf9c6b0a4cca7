#if canImport(Glibc)
import Glibc
#endif

/// Reads one child pipe on its own thread, blocked in poll(2) until data or hang-up arrives, assembles lines, and
/// reports end of file once. After EOF (or `forceClose`) the thread ends, so a hung-up pipe never spins.
final class OutputCapture: Sendable {
    private let fd: Int32
    private let stream: OutputStream
    private let wake = WakePipe()
    private let onLine: @Sendable (OutputLine) -> Void
    private let onClose: @Sendable () -> Void

    init(fd: Int32, stream: OutputStream, onLine: @escaping @Sendable (OutputLine) -> Void, onClose: @escaping @Sendable () -> Void) {
        self.fd = fd
        self.stream = stream
        self.onLine = onLine
        self.onClose = onClose
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    func start() { startThread { [self] in run() } }

    /// Stops reading (used when a pipe stays open after the whole stage was killed, e.g. held by an escaped process).
    func forceClose() { wake.wake() }

    private func run() {
        var assembler = LineAssembler()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        reading: while waitReadable(fd, orWake: wake) {
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    for (text, cut) in assembler.feed(buffer[0..<n]) { onLine(OutputLine(stream: stream, text: text, cut: cut)) }
                    continue
                }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { continue reading }
                break reading  // EOF or a read error
            }
        }
        if let rest = assembler.finish() { onLine(OutputLine(stream: stream, text: rest.text, cut: rest.cut)) }
        close(fd)
        onClose()
    }
}
