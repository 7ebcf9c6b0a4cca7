import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// What was cut off a torn journal tail on open.
public struct TailRepair: Sendable, Equatable {
    public var droppedBytes: Int
    public var droppedSHA256: String

    public init(droppedBytes: Int, droppedSHA256: String) {
        self.droppedBytes = droppedBytes
        self.droppedSHA256 = droppedSHA256
    }
}

/// Appends hash-chained v2 lines to the journal file, continuing the chain of whatever is already there
/// (including rotated files), cutting off a torn tail, and rotating at a size limit.
///
/// Not thread-safe: one owner (the engine actor) calls it.
public final class JournalWriter {
    public let path: String
    public private(set) var lastSeq: UInt64 = 0
    /// SHA-256 of the last line written (the `prev_hash` of the next one).
    public private(set) var headHash: String = SHA256.zeroHex
    /// Set when opening cut a torn tail off the file.
    public private(set) var repair: TailRepair?
    public let policy: FsyncPolicy
    public let rotateSize: Int64
    public private(set) var needsSync = false
    /// How long the last `sync()` took: a group commit starts that much before its deadline.
    public private(set) var lastSyncSeconds: Double = 0

    /// How often the file was rotated since it was opened (the owner prunes after a rotation).
    public private(set) var rotations = 0

    private var fd: Int32 = -1
    private var size: Int64 = 0
    private var firstSeqInFile: UInt64?
    /// A failed write left bytes that could not be cut off yet.
    private var tailDirty = false
    private var closed = false
    private let hasher = LineHasher()

    public init(path: String, fsync policy: FsyncPolicy = .always, rotateSize: Int64 = 64 << 20) throws(JournalError) {
        self.path = path
        self.policy = policy
        self.rotateSize = rotateSize
        try openFile()
        let tail = try JournalTail.inspect(fd: fd, size: size, path: path)
        if let last = tail.lastLine {
            (lastSeq, headHash) = try Self.head(of: last, path: path)
            if let first = tail.firstLine { firstSeqInFile = try Self.head(of: first, path: path).seq }
        } else if let rotated = try RotatedJournals.newest(besides: path) {
            let last = try JournalTail.lastCompleteLine(of: rotated)
            (lastSeq, headHash) = try Self.head(of: last, path: rotated)
        }
        if let torn = tail.torn {
            guard TornTail.isPlausible(torn, nextSeq: lastSeq + 1, afterLines: lastSeq > 0) else {
                throw .unreadableTail(
                    path: path,
                    reason: "the \(torn.count) bytes after the last complete line are not the start "
                        + "of the next event, so they are damage, not a torn write"
                )
            }
            guard ftruncate(fd, off_t(tail.validEnd)) == 0, fsync(fd) == 0 else {
                throw .io(FileSystemError(path: path, operation: "truncate torn tail", errno: errno))
            }
            size = tail.validEnd
            repair = TailRepair(droppedBytes: torn.count, droppedSHA256: SHA256.hex(torn))
        }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Closes the file (after a final sync).
    public func close() {
        guard fd >= 0 else {
            closed = true
            return
        }
        if needsSync { fdatasync(fd) }
        Glibc.close(fd)
        fd = -1
        closed = true
    }

    /// Appends one event. With `.always` it is on disk when this returns. A failed write leaves no partial line.
    @discardableResult
    public func append(_ draft: EventDraft, at timestamp: Timestamp) throws(JournalError) -> WrittenEvent {
        let line = JournalLineEncoder.encode(draft, seq: lastSeq + 1, timestamp: timestamp, prevHash: headHash)
        return try write(line, draft: draft, at: timestamp)
    }

    /// Appends a `checkpoint` signed with `key` that seals every line written so far (see `Checkpoint`).
    @discardableResult
    public func appendCheckpoint(
        key: JournalKey,
        interval: UInt64,
        at timestamp: Timestamp
    ) throws(JournalError) -> WrittenEvent {
        var draft = EventDraft(
            .checkpoint,
            message: Checkpoint(keyID: key.id, seq: lastSeq, head: headHash, interval: interval).message
        )
        var line = JournalLineEncoder.encode(draft, seq: lastSeq + 1, timestamp: timestamp, prevHash: headHash)
        draft.message = Checkpoint.sign(&line, with: key)
        return try write(line, draft: draft, at: timestamp)
    }

    private func write(_ line: [UInt8], draft: EventDraft, at timestamp: Timestamp) throws(JournalError) -> WrittenEvent
    {
        let seq = lastSeq + 1
        if rotateSize > 0, size > 0, size + Int64(line.count) > rotateSize { try rotate() }
        if fd < 0 {
            guard !closed else {
                throw .io(FileSystemError(path: path, operation: "append (journal closed)", errno: EBADF))
            }
            try openFile()
        }
        if tailDirty {
            // An earlier failed write could not be cut back: finish that first, or write nothing.
            guard ftruncate(fd, off_t(size)) == 0 else {
                throw .io(FileSystemError(path: path, operation: "truncate a failed write", errno: errno))
            }
            tailDirty = false
        }
        let written = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if written != line.count {
            throw .io(FileSystemError(path: path, operation: "append", errno: cutBack(written < 0 ? errno : ENOSPC)))
        }
        if policy == .always, fdatasync(fd) != 0 {
            // Not durable: the event did not happen as far as anyone can tell, so it must not stay in the file either.
            throw .io(FileSystemError(path: path, operation: "fdatasync", errno: cutBack(errno)))
        }
        size += Int64(line.count)
        if firstSeqInFile == nil { firstSeqInFile = seq }
        if policy == .batch { needsSync = true }
        let hash = line.withUnsafeBytes { hasher.digest($0) }.description
        lastSeq = seq
        headHash = hash
        return WrittenEvent(
            draft: draft,
            seq: seq,
            timestamp: timestamp,
            prevHash: line.prevHashField,
            line: line,
            hash: hash
        )
    }

    /// Cuts the file back to its last complete line after a failed write; returns `code` for chaining.
    private func cutBack(_ code: Int32) -> Int32 {
        if ftruncate(fd, off_t(size)) != 0 { tailDirty = true }
        return code
    }

    /// Makes every appended line durable (for the `batch` policy).
    public func sync() throws(JournalError) {
        guard needsSync, fd >= 0 else { return }
        let start = MonotonicClock.nanoseconds()
        guard fdatasync(fd) == 0 else { throw .io(FileSystemError(path: path, operation: "fdatasync", errno: errno)) }
        lastSyncSeconds = Double(MonotonicClock.nanoseconds() - start) / 1e9
        needsSync = false
    }

    private func openFile() throws(JournalError) {
        do { try FileSystem.createDirectories(FileSystem.dirname(path)) } catch { throw .io(error) }
        fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .io(FileSystemError(path: path, operation: "open", errno: errno)) }
        var st = stat()
        fstat(fd, &st)
        size = Int64(st.st_size)
    }

    private func rotate() throws(JournalError) {
        let target = RotatedJournals.name(for: path, firstSeq: firstSeqInFile ?? (lastSeq + 1))
        if fdatasync(fd) != 0 { throw .io(FileSystemError(path: path, operation: "fdatasync", errno: errno)) }
        guard rename(path, target) == 0 else {
            throw .io(FileSystemError(path: target, operation: "rename", errno: errno))
        }
        Glibc.close(fd)
        fd = -1
        firstSeqInFile = nil
        needsSync = false
        rotations += 1
        FileSystem.syncDirectory(of: path)
        try openFile()  // if this fails (no inode left), the next append tries again
    }

    private static func head(of line: [UInt8], path: String) throws(JournalError) -> (seq: UInt64, hash: String) {
        let body = line.last == 0x0a ? Array(line.dropLast()) : line
        let value: JSONValue
        do { value = try StrictJSONParser.parse(body, compact: true) } catch {
            throw .unreadableTail(path: path, reason: "invalid JSON: \(error)")
        }
        guard value["event_version"]?.stringValue == "2" else {
            throw .unreadableTail(path: path, reason: "not an event_version \"2\" line")
        }
        guard let seq = value["seq"]?.int64Value, seq >= 1 else {
            throw .unreadableTail(path: path, reason: "no valid seq")
        }
        return (UInt64(seq), SHA256.hex(line))
    }
}

extension Array where Element == UInt8 {
    /// The `prev_hash` value of an encoded line (its last 64 hex digits before `"}\n`).
    fileprivate var prevHashField: String {
        guard count > 68 else { return "" }
        return String(decoding: self[(count - 67)..<(count - 3)], as: UTF8.self)
    }
}

/// Locates the complete lines at the start and end of a journal file and any torn bytes after the last newline.
enum JournalTail {
    struct Inspection {
        var validEnd: Int64
        var firstLine: [UInt8]?
        var lastLine: [UInt8]?
        var torn: [UInt8]?
    }

    static func inspect(fd: Int32, size: Int64, path: String) throws(JournalError) -> Inspection {
        guard size > 0 else { return Inspection(validEnd: 0) }
        // Lines are at most 64 KiB, so the last complete line and a torn tail fit in a bounded window unless the
        // tail is garbage; in that case keep reading backwards until a newline or the start of the file.
        var window: Int64 = 256 * 1024
        while true {
            let start = max(0, size - window)
            let bytes = try pread(fd: fd, offset: start, count: Int(size - start), path: path)
            if let lastNewline = bytes.lastIndex(of: 0x0a) {
                let validEnd = start + Int64(lastNewline) + 1
                let torn = validEnd < size ? Array(bytes[(lastNewline + 1)...]) : nil
                let lineStart = bytes[..<lastNewline].lastIndex(of: 0x0a).map { $0 + 1 }
                guard let lineStart = lineStart ?? (start == 0 ? 0 : nil) else {
                    window *= 2
                    continue
                }
                let last = Array(bytes[lineStart...lastNewline])
                let firstChunk = try pread(fd: fd, offset: 0, count: Int(min(validEnd, 80 * 1024)), path: path)
                let first = firstChunk.firstIndex(of: 0x0a).map { Array(firstChunk[...$0]) }
                return Inspection(validEnd: validEnd, firstLine: first, lastLine: last, torn: torn)
            }
            if start == 0 { return Inspection(validEnd: 0, torn: bytes) }
            window *= 2
        }
    }

    /// The last complete line of the file at `path`, read backwards like `inspect` (a rotated file of up to
    /// `rotate_size` is never read whole for it).
    static func lastCompleteLine(of path: String) throws(JournalError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(FileSystemError(path: path, operation: "open", errno: errno)) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(FileSystemError(path: path, operation: "stat", errno: errno)) }
        guard let last = try inspect(fd: fd, size: Int64(st.st_size), path: path).lastLine else {
            throw .unreadableTail(path: path, reason: "no complete line")
        }
        return last
    }

    /// The last complete line of `bytes` (a file read whole anyway, as retention does to hash it).
    static func lastCompleteLine(in bytes: [UInt8], path: String) throws(JournalError) -> [UInt8] {
        guard let lastNewline = bytes.lastIndex(of: 0x0a) else {
            throw .unreadableTail(path: path, reason: "no complete line")
        }
        let start = bytes[..<lastNewline].lastIndex(of: 0x0a).map { $0 + 1 } ?? 0
        return Array(bytes[start...lastNewline])
    }

    private static func pread(fd: Int32, offset: Int64, count: Int, path: String) throws(JournalError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { raw in
                raw.baseAddress.map { Glibc.pread(fd, $0 + done, count - done, off_t(offset) + off_t(done)) } ?? 0
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(FileSystemError(path: path, operation: "read", errno: errno))
            }
            if n == 0 { break }
            done += n
        }
        return Array(buffer[0..<done])
    }
}

/// Naming and discovery of rotated journal files (`events.<first seq, 12 digits>.jsonl`).
public enum RotatedJournals {
    /// The rotated name for the live file `path` whose first line has `firstSeq`.
    public static func name(for path: String, firstSeq: UInt64) -> String {
        let stem = path.hasSuffix(".jsonl") ? String(path.dropLast(6)) : path
        return "\(stem).\(String(zeroPadded: Int(firstSeq), width: 12)).jsonl"
    }

    /// Rotated files belonging to the live file `path`, oldest first.
    public static func all(besides path: String) -> [String] {
        let directory = FileSystem.dirname(path)
        let base = String(path.split(separator: "/").last ?? Substring(path))
        let stem = base.hasSuffix(".jsonl") ? String(base.dropLast(6)) : base
        let names = ((try? FileSystem.entries(of: directory)) ?? []).filter { name in
            guard name.hasPrefix(stem + "."), name.hasSuffix(".jsonl") else { return false }
            let middle = name.dropFirst(stem.count + 1).dropLast(6)
            return middle.count == 12 && middle.allSatisfy(\.isASCII) && middle.allSatisfy(\.isNumber)
        }
        return names.sorted().map { directory + "/" + $0 }
    }

    static func newest(besides path: String) throws(JournalError) -> String? { all(besides: path).last }

    /// The first seq of a rotated file, from its name.
    public static func firstSeq(of file: String) -> UInt64? {
        guard file.hasSuffix(".jsonl") else { return nil }
        let digits = file.dropLast(6).suffix(13)
        guard digits.first == ".", digits.count == 13 else { return nil }
        return UInt64(digits.dropFirst())
    }
}
