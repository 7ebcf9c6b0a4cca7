#if canImport(Glibc)
import Glibc
#endif

/// Reads a stage log in order across its rotation — `<stage>.log.1` (the older part, when the log has been
/// rotated at `logs.max_size`), then `<stage>.log` — in chunks of at most `chunkSize` bytes, following renames
/// while the stage writes. A reader of any speed gets every byte still on disk while the daemon holds one chunk.
final class StageLogCursor {
    let path: String
    static let chunkSize = 64 * 1024
    private var fd: Int32 = -1
    private var offset: Int64 = 0
    private var identity: FileIdentity?
    private var buffer: [UInt8]

    /// The older part of a rotated log.
    var rotatedPath: String { path + ".1" }

    /// Positioned at the start of the oldest part of the log.
    init(path: String) {
        self.path = path
        buffer = [UInt8](repeating: 0, count: Self.chunkSize)
        if !openFile(rotatedPath) { openFile(path) }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// The next bytes, or nil at the end of the live file (for now: a running stage appends more).
    func read() -> [UInt8]? {
        for _ in 0..<4 {
            if fd < 0 && !openFile(path) { return nil }  // no log (yet)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            if n < 0 && errno == EINTR { continue }
            if n > 0 {
                offset += Int64(n)
                return Array(buffer[0..<n])
            }
            guard moveToNextFile() else { return nil }
        }
        return nil
    }

    /// Skips `count` lines from here; returns how many there were (fewer at the end of the log).
    func skipLines(_ count: Int) -> Int {
        var skipped = 0
        while skipped < count, let chunk = read() {
            var index = 0
            while skipped < count, let newline = Self.newline(in: chunk, from: index) {
                skipped += 1
                index = newline + 1
            }
            if skipped == count { offset -= Int64(chunk.count - index) }  // the rest of this chunk is still to read
        }
        return skipped
    }

    /// Counts the lines from here to the end (moving the cursor there).
    func countLines() -> Int {
        var lines = 0
        while let chunk = read() {
            var index = 0
            while let newline = Self.newline(in: chunk, from: index) {
                lines += 1
                index = newline + 1
            }
        }
        return lines
    }

    /// Whether everything appended so far has been read: called under the broadcaster's lock after `read()`
    /// returned nil, so no append runs meanwhile.
    func isCaughtUp() -> Bool {
        guard let live = FileIdentity(path: path) else { return true }
        guard let identity else { return live.size == 0 }
        return identity.sameFile(as: live) && offset >= live.size
    }

    /// After the end of the open file: opens the next newer one and returns true, or returns false when the open
    /// file is the live log. The open file is the rotated part, or a live log that was rotated while being read
    /// (then `.log.1`, if it is not the open file, is the newer one).
    private func moveToNextFile() -> Bool {
        guard let identity else { return false }
        let live = FileIdentity(path: path)
        if let live, identity.sameFile(as: live) { return false }
        if let rotated = FileIdentity(path: rotatedPath), !identity.sameFile(as: rotated) {
            return openFile(rotatedPath) || openFile(path)
        }
        return openFile(path)
            || {
                closeFile()
                return false
            }()
    }

    @discardableResult
    private func openFile(_ file: String) -> Bool {
        let descriptor = Glibc.open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        closeFile()
        fd = descriptor
        offset = 0
        identity = FileIdentity(fd: descriptor)
        return true
    }

    private func closeFile() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        identity = nil
        offset = 0
    }

    private static func newline(in chunk: [UInt8], from index: Int) -> Int? {
        guard index < chunk.count else { return nil }
        return chunk.withUnsafeBytes { raw -> Int? in
            guard let base = raw.baseAddress, let found = memchr(base + index, 0x0a, raw.count - index) else {
                return nil
            }
            return base.distance(to: UnsafeRawPointer(found))
        }
    }
}

/// A file's device, inode and size.
struct FileIdentity {
    var device: UInt64
    var inode: UInt64
    var size: Int64

    init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        self.init(st)
    }

    init?(fd: Int32) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        self.init(st)
    }

    private init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
    }

    func sameFile(as other: FileIdentity) -> Bool { device == other.device && inode == other.inode }
}
