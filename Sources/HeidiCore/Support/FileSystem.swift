#if canImport(Glibc)
import Glibc
#endif

/// A failed file-system call, naming the path and the operation so an operator can act on it.
public struct FileSystemError: Error, CustomStringConvertible, Equatable, Sendable {
    public var path: String
    public var operation: String
    public var errno: Int32

    public init(path: String, operation: String, errno: Int32) {
        self.path = path
        self.operation = operation
        self.errno = errno
    }

    public var description: String { "\(path): \(operation) failed: \(errnoDescription(errno))" }
}

/// `strerror` text for an errno value.
public func errnoDescription(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// Small, explicit POSIX file helpers (FoundationEssentials has no atomic-write-with-fsync of the directory).
public enum FileSystem {
    /// Whether something exists at `path`.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// Whether `path` is a directory.
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates `path` and its missing parents with `mode` (like `mkdir -p`).
    public static func createDirectories(_ path: String, mode: mode_t = 0o750) throws(FileSystemError) {
        if isDirectory(path) { return }
        let parent = dirname(path)
        if parent != path && !parent.isEmpty { try createDirectories(parent, mode: mode) }
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw FileSystemError(path: path, operation: "mkdir", errno: errno)
        }
    }

    /// The whole content of `path`.
    public static func read(_ path: String) throws(FileSystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// Writes every byte of `bytes` to `fd`, retrying on EINTR and short writes.
    public static func writeAll(fd: Int32, _ bytes: [UInt8], path: String) throws(FileSystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                raw.baseAddress.map { Glibc.write(fd, $0 + offset, raw.count - offset) } ?? 0
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(path: path, operation: "write", errno: errno)
            }
            offset += n
        }
    }

    /// Replaces `path` atomically: write a temporary file, fsync it, rename it over `path`, fsync the directory.
    /// Readers see the old content or the new one, never a mix; a crash leaves one of the two.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o640) throws(FileSystemError) {
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileSystemError(path: temp, operation: "open", errno: errno) }
        var failure: FileSystemError?
        do { try writeAll(fd: fd, bytes, path: temp) } catch { failure = error }
        if failure == nil, fsync(fd) != 0 { failure = FileSystemError(path: temp, operation: "fsync", errno: errno) }
        if let failure {
            close(fd)
            unlink(temp)
            throw failure
        }
        close(fd)
        if rename(temp, path) != 0 {
            let code = errno
            unlink(temp)
            throw FileSystemError(path: path, operation: "rename", errno: code)
        }
        syncDirectory(of: path)
    }

    /// fsyncs the directory containing `path` so a rename or create in it is durable.
    public static func syncDirectory(of path: String) {
        let fd = open(dirname(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    /// The directory part of `path` (`"."` for a bare name).
    public static func dirname(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// `path` made absolute against `base` when it is relative.
    public static func resolve(_ path: String, against base: String) -> String {
        if path.hasPrefix("/") { return path }
        let joined = base.hasSuffix("/") ? base + path : base + "/" + path
        return normalize(joined)
    }

    /// Removes `.` and `..` components and duplicate slashes (lexically).
    public static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    /// The names in the directory `path`, without `.` and `..`, in no particular order.
    public static func entries(of path: String) throws(FileSystemError) -> [String] {
        guard let directory = opendir(path) else {
            throw FileSystemError(path: path, operation: "opendir", errno: errno)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Deletes `path` and, when it is a directory, everything below it, without following symbolic links. Best
    /// effort: what cannot be removed stays.
    public static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            unlink(path)
            return
        }
        for name in (try? entries(of: path)) ?? [] { removeTree(path + "/" + name) }
        rmdir(path)
    }

    /// The current working directory.
    public static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
