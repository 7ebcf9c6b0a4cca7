#if canImport(Glibc)
import Glibc
#endif

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
