import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// What follows the last complete line of a file.
enum FileTail: Equatable {
    /// The file ends with a newline (or is empty).
    case clean
    /// Bytes after the last newline, at most one line's length.
    case partial([UInt8])
    /// A line (or garbage) longer than the line limit, starting at this byte offset.
    case overlong(offset: Int64)
}

/// Reads a file in large blocks and hands out its complete lines (with their newline) without copying them, in
/// constant memory whatever the file holds.
enum JournalLineReader {
    static let blockSize = 4 << 20

    /// Calls `body(line, offset)` for each complete line from byte `offset` on, until it returns false (then the
    /// result is nil). A line longer than `maxLine` bytes (newline included) ends the read with `.overlong`.
    static func forEachLine(
        in path: String,
        from offset: Int64 = 0,
        maxLine: Int,
        _ body: (UnsafeBufferPointer<UInt8>, Int64) -> Bool
    ) throws(FileSystemError) -> FileTail? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: blockSize + maxLine)
        let result: Result<FileTail?, FileSystemError> = buffer.withUnsafeMutableBufferPointer { raw in
            guard let base = raw.baseAddress else { return .success(.clean) }
            var filled = 0
            var bufferOffset = offset
            while true {
                let n = pread(fd, base + filled, raw.count - filled, off_t(bufferOffset) + off_t(filled))
                if n < 0 {
                    if errno == EINTR { continue }
                    return .failure(FileSystemError(path: path, operation: "read", errno: errno))
                }
                if n == 0 {
                    return .success(
                        filled == 0 ? .clean : .partial(Array(UnsafeBufferPointer(start: base, count: filled)))
                    )
                }
                filled += n
                var start = 0
                while start < filled, let found = memchr(base + start, 0x0a, filled - start) {
                    let end = UnsafeRawPointer(found).assumingMemoryBound(to: UInt8.self) - UnsafePointer(base) + 1
                    if end - start > maxLine { return .success(.overlong(offset: bufferOffset + Int64(start))) }
                    if !body(UnsafeBufferPointer(start: base + start, count: end - start), bufferOffset + Int64(start))
                    {
                        return .success(nil)
                    }
                    start = end
                }
                if filled - start > maxLine { return .success(.overlong(offset: bufferOffset + Int64(start))) }
                if start > 0 {
                    memmove(base, base + start, filled - start)
                    filled -= start
                    bufferOffset += Int64(start)
                }
            }
        }
        return try result.get()
    }
}

/// Which bytes after the last complete line can be what a crash left behind: the beginning of the next event
/// (a prefix of `{"event_version":"2","seq":<next seq>,…`), or zero bytes after at least one line (a file extended
/// but never written), and never more than one line. Anything else is damage, not a torn tail.
enum TornTail {
    static func isPlausible(_ bytes: [UInt8], nextSeq: UInt64, afterLines: Bool) -> Bool {
        guard !bytes.isEmpty, bytes.count < JournalLineEncoder.maxLineBytes else { return false }
        if bytes.allSatisfy({ $0 == 0 }) { return afterLines }
        let expected = Array(#"{"event_version":"2","seq":\#(nextSeq),"ts":""#.utf8)
        let common = min(bytes.count, expected.count)
        return bytes.prefix(common).elementsEqual(expected.prefix(common))
    }
}
