#if canImport(Glibc)
import Glibc
#endif
import HeidiCore

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

    /// Appends `line` and a newline. Errors are returned, not thrown, so a full disk never stops supervision.
    @discardableResult
    public func append(_ line: String) -> FileSystemError? {
        var bytes = Array(line.utf8)
        bytes.append(0x0a)
        if maxSize > 0, size > 0, size + Int64(bytes.count) > maxSize { rotate() }
        do { try FileSystem.writeAll(fd: fd, bytes, path: path) } catch { return error }
        size += Int64(bytes.count)
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
