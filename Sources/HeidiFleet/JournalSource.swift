import HeidiCore
import HeidiJournal

#if canImport(Glibc)
import Glibc
#endif

/// The worker's side of replication: reads whole journal lines after a seq from the journal files themselves (the
/// live `events.jsonl` and its rotated predecessors, through HeidiJournal's `JournalFileCursor`), never from memory,
/// so a rewind to any seq the files still hold is always possible and what is held is one batch. Reading on from
/// where the last batch ended costs no rescan. One owner (the shipper) uses it.
public final class JournalSource {
    public let path: String
    private let cursor: JournalFileCursor

    public init(path: String) {
        self.path = path
        cursor = JournalFileCursor(path: path)
    }

    /// A batch: whole lines with seq > `after`, at most about `maxBytes`, and the seq of its last line.
    public struct Batch: Sendable {
        public var bytes: [UInt8]
        public var lastSeq: UInt64
    }

    /// Lines after `after` (nil when the files hold none yet).
    public func read(after: UInt64, maxBytes: Int) -> Batch? {
        cursor.read(after: after, maxBytes: maxBytes).map { Batch(bytes: $0.bytes, lastSeq: $0.lastSeq) }
    }

    /// The seq and time (microseconds) of the journal's last line, from the end of the live file.
    public func head() -> (seq: UInt64, time: Int64?)? {
        let live = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard live >= 0 else { return nil }
        defer { close(live) }
        var st = stat()
        guard fstat(live, &st) == 0 else { return nil }
        let size = Int64(st.st_size)
        let window = min(size, Int64(JournalLineEncoder.maxLineBytes + 2))
        var buffer = [UInt8](repeating: 0, count: Int(window))
        let n = buffer.withUnsafeMutableBytes { pread(live, $0.baseAddress, $0.count, off_t(size - window)) }
        guard n == Int(window), let end = buffer.lastIndex(of: 0x0a) else { return nil }
        let start = buffer[..<end].lastIndex(of: 0x0a).map { $0 + 1 } ?? 0
        let line = buffer[start...end]
        guard let seq = JournalLineEncoder.seq(of: line) else { return nil }
        return (seq, FleetStore.lineTime(line))
    }
}
