#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// Reads one child pipe without blocking a thread: a dispatch read source drains it when readable, assembles
/// lines, and reports end of file once (the source is then cancelled, so a hung-up pipe never spins).
final class OutputCapture: @unchecked Sendable {
    private let fd: Int32
    private let stream: OutputStream
    private let queue: DispatchQueue
    private var assembler = LineAssembler()
    private var source: (any DispatchSourceRead)?
    private let onLine: @Sendable (OutputLine) -> Void
    private let onClose: @Sendable () -> Void
    private var closed = false
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    /// Bytes read so far (touched only on `queue`).
    private(set) var byteCount: Int64 = 0

    init(fd: Int32, stream: OutputStream, queue: DispatchQueue,
         onLine: @escaping @Sendable (OutputLine) -> Void, onClose: @escaping @Sendable () -> Void) {
        self.fd = fd
        self.stream = stream
        self.queue = queue
        self.onLine = onLine
        self.onClose = onClose
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    func start() {
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { [self] in drain() }
        source.setCancelHandler { [fd] in close(fd) }
        self.source = source
        source.resume()
    }

    /// Stops reading (used when a pipe stays open after the whole stage was killed, e.g. held by an escaped process).
    func forceClose() {
        queue.async { [self] in finish() }
    }

    private func drain() {
        while !closed {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                byteCount += Int64(n)
                for (text, cut) in assembler.feed(buffer[0..<n]) { onLine(OutputLine(stream: stream, text: text, cut: cut)) }
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            finish()  // EOF or a read error
        }
    }

    private func finish() {
        guard !closed else { return }
        closed = true
        if let rest = assembler.finish() { onLine(OutputLine(stream: stream, text: rest.text, cut: rest.cut)) }
        source?.cancel()
        source = nil
        onClose()
    }
}
