import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// Why the control socket cannot be set up, naming the socket path.
public enum ControlSocketError: Error, CustomStringConvertible, Equatable, Sendable {
    case inUse(String)
    case notASocket(String)
    case system(FileSystemError)

    public var description: String {
        switch self {
        case .inUse(let path): return "\(path): another heidid is already listening on this control socket"
        case .notASocket(let path):
            return "\(path): exists and is not a socket; remove it or choose another control.socket"
        case .system(let error): return "control socket: \(error)"
        }
    }
}

/// Preparing and cleaning up a control socket path the daemon binds itself (not socket-activated).
public enum ListeningSocket {
    /// Makes `path` bindable: creates the directory, refuses if a live daemon answers there, removes a stale socket.
    public static func prepare(_ path: String) throws(ControlSocketError) {
        do { try FileSystem.createDirectories(FileSystem.dirname(path)) } catch { throw .system(error) }
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw .notASocket(path) }
        if isListening(path) { throw .inUse(path) }
        unlink(path)
    }

    /// Whether something accepts connections on the Unix socket `path`.
    public static func isListening(_ path: String) -> Bool {
        guard case .success(let fd) = UnixSocket.connect(path) else { return false }
        close(fd)
        return true
    }

    /// A temporary name next to `path` to bind before the socket is ready to be seen.
    public static func stagingPath(for path: String) -> String {
        FileSystem.dirname(path) + "/.heidi-\(getpid()).sock"
    }

    /// Gives the bound socket at `staging` mode 0660 and, when given, `group`, then renames it to `path`.
    public static func publish(_ staging: String, at path: String, group: UInt32?) throws(ControlSocketError) {
        if let group, chown(staging, uid_t(bitPattern: -1), group) != 0 {
            throw .system(FileSystemError(path: staging, operation: "chown to group \(group)", errno: errno))
        }
        if chmod(staging, 0o660) != 0 {
            throw .system(FileSystemError(path: staging, operation: "chmod 0660", errno: errno))
        }
        if rename(staging, path) != 0 {
            throw .system(FileSystemError(path: path, operation: "rename from \(staging)", errno: errno))
        }
    }
}
