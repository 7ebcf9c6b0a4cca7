import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// A private directory for one check (`<parent>/heidi-check-XXXXXX`, mode 0700): the source file, the compiled
/// output, the toolchain's `HOME` and `TMPDIR`. `remove()` deletes it and everything in it without following
/// symbolic links.
struct ScratchDirectory: Sendable {
    let path: String

    /// Makes a fresh directory under `parent`.
    static func make(in parent: String) throws(ValidationError) -> ScratchDirectory {
        var template = Array("\(parent)/heidi-check-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        guard made != nil else {
            throw .scratch(FileSystemError(path: parent, operation: "mkdtemp", errno: errno))
        }
        return ScratchDirectory(
            path: String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        )
    }

    /// Writes `text` to the file `name` in the directory (created exclusively, mode 0600).
    func write(_ name: String, _ text: String) throws(ValidationError) {
        let file = path + "/" + name
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .scratch(FileSystemError(path: file, operation: "open", errno: errno)) }
        defer { close(fd) }
        do { try FileSystem.writeAll(fd: fd, Array(text.utf8), path: file) } catch { throw .scratch(error) }
    }

    /// Deletes the directory and its content. Best effort, never throws: a check must not fail for it.
    func remove() { FileSystem.removeTree(path) }
}
