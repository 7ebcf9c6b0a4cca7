import HeidiCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Reads what a job appends to a file on the shared filesystem (its output, its progress file), complete lines at a
/// time, from a byte offset that survives a heidid restart: the offset is kept in a sidecar file (`PATH.heidi-offset`)
/// written right after each delivery, so an adopting heidid continues where the last one stopped, with no line twice.
final class SlurmFileTail: Sendable {
    let path: String
    private let offsetPath: String
    private let offset: Mutex<Int64>

    init(path: String, resume: Bool) {
        self.path = path
        offsetPath = path + ".heidi-offset"
        var start: Int64 = 0
        if resume, let bytes = try? FileSystem.read(offsetPath),
            let value = Int64(String(decoding: bytes, as: UTF8.self))
        {
            start = value
        }
        offset = Mutex(start)
    }

    /// The bytes appended since the last read, up to the last newline (`final`: everything, for the job's end).
    func read(final: Bool = false) -> [UInt8] {
        offset.withLock { offset -> [UInt8] in
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return [] }
            defer { close(fd) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            var position = offset
            while bytes.count < 8 << 20 {
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(position)) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                bytes += buffer[0..<n]
                position += Int64(n)
            }
            if !final, let lastNewline = bytes.lastIndex(of: 0x0a) {
                bytes.removeSubrange((lastNewline + 1)...)
            } else if !final {
                bytes = bytes.count >= 1 << 20 ? bytes : []  // a line of a MiB is delivered without its end
            }
            return bytes
        }
    }

    /// The file's size now (0 while it does not exist).
    var size: Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }

    /// Marks `count` bytes (what `read` returned) as delivered.
    func advance(by count: Int) {
        guard count > 0 else { return }
        let value = offset.withLock { offset -> Int64 in
            offset += Int64(count)
            return offset
        }
        try? FileSystem.writeAtomically(offsetPath, Array(String(value).utf8))
    }
}
