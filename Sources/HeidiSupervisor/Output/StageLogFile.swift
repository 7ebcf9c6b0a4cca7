import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// A stage's log file (`<run_dir>/logs/round-<N>/<stage>.log`), rotated to `.log.1` at `maxSize` so a stage uses
/// at most about twice that on disk.
public final class StageLogFile: @unchecked Sendable {
    public let path: String
    private let maxSize: Int64
    private var fd: Int32
    private var size: Int64

    public init(path: String, maxSize: Int64) throws(FileSystemError) {
        self.path = path
        self.maxSize = maxSize
        try FileSystem.createDirectories(FileSystem.dirname(path))
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open", errno: errno) }
        var st = stat()
        fstat(fd, &st)
        size = Int64(st.st_size)
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Bytes that could not be written (disk full, I/O error) and the last such error, for the stage's end event.
    public private(set) var unwrittenBytes: Int64 = 0
    public private(set) var lastError: FileSystemError?

    /// Appends complete lines (`bytes` ends in `\n`). When the file would grow past `maxSize` it is rotated to
    /// `.log.1` at a line boundary, so neither file holds a partial line and a stage uses at most about twice
    /// `maxSize` on disk. Errors are recorded and returned, not thrown, so a full disk never stops supervision.
    @discardableResult
    public func append(_ bytes: [UInt8]) -> FileSystemError? {
        var failure: FileSystemError?
        var start = 0
        while start < bytes.count {
            let rest = Int64(bytes.count - start)
            var end = bytes.count
            if maxSize > 0 && size + rest > maxSize {
                let room = Int(max(0, maxSize - size))
                if let newline = bytes[start..<(start + min(room, bytes.count - start))].lastIndex(of: 0x0a) {
                    end = newline + 1
                } else if size > 0 {
                    rotate()
                    continue
                } else {
                    // A single line longer than the whole file limit: it gets a file of its own.
                    end = (bytes[start...].firstIndex(of: 0x0a) ?? bytes.count - 1) + 1
                }
            }
            if let error = write(bytes[start..<end]) { failure = error }
            start = end
            if end < bytes.count || (maxSize > 0 && size >= maxSize) { rotate() }
        }
        return failure
    }

    private func write(_ slice: ArraySlice<UInt8>) -> FileSystemError? {
        var offset = slice.startIndex
        while offset < slice.endIndex {
            let n = slice.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress.map { $0 + (offset - slice.startIndex) }, slice.endIndex - offset)
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let error = FileSystemError(path: path, operation: "write", errno: n < 0 ? errno : EIO)
                unwrittenBytes += Int64(slice.endIndex - offset)
                lastError = error
                return error
            }
            offset += n
            size += Int64(n)
        }
        return nil
    }

    private func rotate() {
        Glibc.close(fd)
        rename(path, path + ".1")
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o640)
        size = 0
    }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
