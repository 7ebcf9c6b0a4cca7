import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on `<state_dir>/heidid.lock`, so two daemons never write one journal. The file holds the
/// holder's pid, so the refusal can name it, and on its second line the control socket the holder serves, so
/// `heidictl --config` finds a daemon started with `--runtime-dir` or `--socket` (`SocketLocator`). Released when
/// the process exits. `StateDirectoryLockInfo` (HeidiCore) reads the file.
public final class StateDirectoryLock: Sendable {
    public let path: String
    private let fd: Int32

    public init(path: String, socket: String? = nil) throws(JournalError) {
        self.path = path
        do { try FileSystem.createDirectories(FileSystem.dirname(path)) } catch { throw .io(error) }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .io(FileSystemError(path: path, operation: "open", errno: errno)) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder =
                (try? FileSystem.read(path)).map { String(decoding: $0, as: UTF8.self) }?
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
