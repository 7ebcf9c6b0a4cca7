#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on `<state_dir>/heidid.lock`, so two daemons never write one journal. The file holds the
/// holder's pid, so the refusal can name it, and on its second line the control socket the holder serves, so
/// `heidictl --config` finds a daemon started with `--runtime-dir` or `--socket` (`SocketLocator`). Released when
/// the process exits.
public final class StateDirectoryLock: Sendable {
    public let path: String
    private let fd: Int32

    public init(path: String, socket: String? = nil) throws(JournalError) {
        self.path = path
        do { try FileSystem.createDirectories(FileSystem.dirname(path)) } catch { throw .io(error) }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .io(FileSystemError(path: path, operation: "open", errno: errno)) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? FileSystem.read(path)).map { String(decoding: $0, as: UTF8.self) }?
                .split(separator: "\n").first.map { "heidid pid \($0)" } ?? "another process"
            close(fd)
            throw .locked(path: path, holder: holder)
        }
        _ = ftruncate(fd, 0)
        let text = Array("\(getpid())\n\(socket.map { $0 + "\n" } ?? "")".utf8)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.fd = fd
    }

    deinit { close(fd) }
}

/// What `<state_dir>/heidid.lock` says about the daemon that holds (or last held) it.
public struct StateDirectoryLockInfo: Sendable, Equatable {
    public var pid: Int32
    /// The control socket it serves (nil when written by a heidid that did not record it).
    public var socket: String?

    /// Reads the lock file; nil when it is missing, unreadable or empty.
    public static func read(path: String) -> StateDirectoryLockInfo? {
        guard let bytes = try? FileSystem.read(path) else { return nil }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        guard let first = lines.first, let pid = Int32(first), pid > 0 else { return nil }
        return StateDirectoryLockInfo(pid: pid, socket: lines.dropFirst().first.map(String.init))
    }

    /// The process still exists (it may have been reused by another program; callers check the socket too).
    public var processExists: Bool { kill(pid, 0) == 0 || errno == EPERM }
}
