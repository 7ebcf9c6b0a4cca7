#if canImport(Glibc)
import Glibc
#endif

/// Process-level helpers shared by heidid and heidictl (FoundationEssentials has no ProcessInfo.environment).
public enum ProcessEnvironment {
    /// The process environment as a dictionary.
    public static func current() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }

    /// One variable of the process environment, without building the dictionary of all of them.
    public static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Writes a line to stderr (Swift 6: the C `stderr` global is not concurrency-safe).
    public static func printError(_ message: String) {
        let bytes = Array((message.hasSuffix("\n") ? message : message + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}

/// Connecting to a Unix stream socket by path.
public enum UnixSocket {
    /// Opens a stream socket and connects it to `path`. Returns the descriptor, or the errno of the failure
    /// (`ENAMETOOLONG` when the path does not fit `sun_path`).
    public static func connect(_ path: String) -> Result<Int32, FileSystemError> {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(FileSystemError(path: path, operation: "socket", errno: errno)) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            return .failure(FileSystemError(path: path, operation: "connect", errno: ENAMETOOLONG))
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else {
            let code = errno
            close(fd)
            return .failure(FileSystemError(path: path, operation: "connect", errno: code))
        }
        return .success(fd)
    }
}
