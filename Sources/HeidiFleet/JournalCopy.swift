import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// Why a journal copy could not be opened or written; names the file.
public struct JournalCopyError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "journal copy \(path): \(reason)" }
}

/// The dashboard's copy of one worker's journal: `<fleet dir>/<worker>/events.jsonl`, byte for byte the lines of the
/// worker's journal, appended only after `ChainCheck` accepted them and synced before the worker is told its new head.
/// One owner (the `FleetStore` actor) uses it.
public final class JournalCopy {
    public let path: String
    public private(set) var head: ChainHead
    /// Set when a batch forked from the copy; kept in `fork.txt` beside the copy, so a restart still shows it.
    public private(set) var fork: String?
    private let fd: Int32

    /// Opens (or creates) the copy in `directory`; a torn last line (a crash while appending) is cut off.
    public init(directory: String) throws(JournalCopyError) {
        path = directory + "/events.jsonl"
        do { try FileSystem.createDirectories(directory) } catch {
            throw JournalCopyError(path: directory, reason: "\(error)")
        }
        fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw JournalCopyError(path: path, reason: "cannot open: \(errnoDescription(errno))") }
        head = .empty
        do { head = try Self.readHead(fd: fd, path: path) } catch {
            close(fd)
            throw error
        }
        if let bytes = try? FileSystem.read(directory + "/fork.txt") { fork = String(decoding: bytes, as: UTF8.self) }
    }

    deinit { close(fd) }

    /// The head from the file's last complete line; bytes after it are cut off.
    static func readHead(fd: Int32, path: String) throws(JournalCopyError) -> ChainHead {
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw JournalCopyError(path: path, reason: "fstat: \(errnoDescription(errno))")
        }
        let size = Int64(st.st_size)
        guard size > 0 else { return .empty }
        let window = Int64(JournalLineEncoder.maxLineBytes * 2 + 2)
        let start = max(0, size - window)
        var buffer = [UInt8](repeating: 0, count: Int(size - start))
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
        guard n == buffer.count else {
            throw JournalCopyError(path: path, reason: "cannot read its end: \(errnoDescription(errno))")
        }
        guard let lastNewline = buffer.lastIndex(of: 0x0a) else {
            if start == 0 {
                guard ftruncate(fd, 0) == 0 else {
                    throw JournalCopyError(path: path, reason: "cannot cut a torn line: \(errnoDescription(errno))")
                }
                return .empty
            }
            throw JournalCopyError(path: path, reason: "no line break in its last \(window) bytes: not a journal copy")
        }
        if lastNewline + 1 < buffer.count {
            guard ftruncate(fd, off_t(start) + off_t(lastNewline + 1)) == 0 else {
                throw JournalCopyError(path: path, reason: "cannot cut a torn line: \(errnoDescription(errno))")
            }
        }
        let lineStart = buffer[..<lastNewline].lastIndex(of: 0x0a).map { $0 + 1 } ?? 0
        if lineStart == 0 && start > 0 {
            throw JournalCopyError(path: path, reason: "its last line is longer than 64 KiB")
        }
        let line = buffer[lineStart...lastNewline]
        guard let seq = JournalLineEncoder.seq(of: line) else {
            throw JournalCopyError(path: path, reason: "its last line is not a heidi journal line")
        }
        return ChainHead(seq: seq, hash: SHA256.hex(line))
    }

    /// Checks `batch` against the head and appends what it accepts (synced); the verdict says what stopped it. A
    /// forked copy takes nothing more until an operator moves it aside.
    public func append(_ batch: [UInt8]) throws(JournalCopyError) -> ChainCheck {
        if let fork {
            var refused = ChainCheck.check([], after: head)
            refused.stop = .fork(seq: head.seq + 1, expected: head.hash, got: "copy already forked: \(fork)")
            return refused
        }
        let verdict = ChainCheck.check(batch, after: head)
        if !verdict.append.isEmpty {
            do { try FileSystem.writeAll(fd: fd, Array(verdict.append), path: path) } catch {
                // A partial write leaves a torn line: cut back to the head so the copy stays a journal.
                _ = try? Self.readHead(fd: fd, path: path)
                throw JournalCopyError(path: path, reason: "append failed: \(error)")
            }
            guard fdatasync(fd) == 0 else {
                throw JournalCopyError(path: path, reason: "fdatasync: \(errnoDescription(errno))")
            }
            head = verdict.head
        }
        if case .fork(let seq, let expected, let got) = verdict.stop {
            let text = "seq \(seq): prev_hash \(got), but the copy's line \(head.seq) hashes to \(expected)"
            fork = text
            try? FileSystem.writeAtomically(FileSystem.dirname(path) + "/fork.txt", Array((text + "\n").utf8))
        }
        return verdict
    }
}
