import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// Why the output file could not be prepared or written.
public enum OutputError: Error, Sendable, Equatable, CustomStringConvertible {
    case notWritable(path: String, reason: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .notWritable(let path, let reason): return "--output \(path): \(reason)"
        case .writeFailed(let path, let reason): return "--output \(path): cannot write: \(reason)"
        }
    }
}

/// The output JSONL, written all at once: a temporary file in the same directory (`.<name>.heidi-collect.<pid>.tmp`),
/// fsync, rename over the destination, fsync of the directory. Readers (and a crash) see the old file or the complete
/// new one, never a part. Temporary files that a killed run left behind are removed by the next run.
public struct AtomicOutputFile: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    var directory: String { FileSystem.dirname(path) }
    var baseName: String { path.split(separator: "/").last.map(String.init) ?? path }
    private var tempPrefix: String { ".\(baseName).heidi-collect." }
    /// The temporary file this process writes before renaming it over `path`.
    public var temporaryPath: String { directory + "/" + tempPrefix + "\(getpid()).tmp" }

    /// Checks early (before any request is paid for) that the output can be written, creating its directory
    /// (mode 0750) when it does not exist yet, as a fresh `{run_dir}/data` does not.
    public func prepare() throws(OutputError) {
        guard !baseName.isEmpty, !path.hasSuffix("/") else { throw .notWritable(path: path, reason: "not a file name") }
        if !FileSystem.isDirectory(directory) {
            do throws(FileSystemError) { try FileSystem.createDirectories(directory) } catch {
                throw .notWritable(
                    path: path,
                    reason: "cannot create directory \(directory): \(errnoDescription(error.errno))"
                )
            }
            guard FileSystem.isDirectory(directory) else {
                throw .notWritable(
                    path: path,
                    reason: "cannot create directory \(directory): a file of that name exists"
                )
            }
        }
        guard access(directory, W_OK) == 0 else {
            throw .notWritable(path: path, reason: "directory \(directory) is not writable: \(errnoDescription(errno))")
        }
        if FileSystem.isDirectory(path) { throw .notWritable(path: path, reason: "is a directory") }
    }

    /// Removes temporary files of earlier runs for this output whose process no longer exists.
    /// Returns their paths.
    @discardableResult
    public func removeStaleTemporaries() -> [String] {
        var removed: [String] = []
        for name in (try? FileSystem.entries(of: directory)) ?? [] {
            guard name.hasPrefix(tempPrefix), name.hasSuffix(".tmp") else { continue }
            let pidText = name.dropFirst(tempPrefix.count).dropLast(4)
            guard let pid = Int32(pidText), pid != getpid() else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }  // its writer is still alive
            let stale = directory + "/" + name
            if unlink(stale) == 0 { removed.append(stale) }
        }
        return removed
    }

    /// Writes `lines` (each ending in `\n`) atomically.
    public func write(_ lines: [[UInt8]]) throws(OutputError) {
        let temp = temporaryPath
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .writeFailed(path: path, reason: "\(temp): \(errnoDescription(errno))") }
        var failure: String?
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        for line in lines {
            buffer.append(contentsOf: line)
            if buffer.count >= 1 << 20 {
                do throws(FileSystemError) { try FileSystem.writeAll(fd: fd, buffer, path: temp) } catch {
                    failure = error.description
                    break
                }
                buffer.removeAll(keepingCapacity: true)
            }
        }
        if failure == nil, !buffer.isEmpty {
            do throws(FileSystemError) { try FileSystem.writeAll(fd: fd, buffer, path: temp) } catch {
                failure = error.description
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = "fsync \(temp): \(errnoDescription(errno))" }
        close(fd)
        if failure == nil, rename(temp, path) != 0 { failure = "rename \(temp): \(errnoDescription(errno))" }
        if let failure {
            unlink(temp)
            throw .writeFailed(path: path, reason: failure)
        }
        FileSystem.syncDirectory(of: path)
    }
}
