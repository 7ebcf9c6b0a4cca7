import HeidiCore
import HeidiJournal

#if canImport(Glibc)
import Glibc
#endif

/// The worker's side of replication: reads whole journal lines after a seq from the journal files themselves (the
/// live `events.jsonl` and its rotated predecessors), never from memory, so a rewind to any seq the files still hold
/// is always possible and what is held is one batch. Reading on from where the last batch ended costs no rescan.
/// One owner (the shipper) uses it.
public final class JournalSource {
    public let path: String
    private var fd: Int32 = -1
    private var offset: Int64 = 0
    /// The seq of the last line before `offset` in the open file (the position is valid for reading after it).
    private var positionSeq: UInt64?

    public init(path: String) { self.path = path }

    deinit { if fd >= 0 { close(fd) } }

    /// A batch: whole lines with seq > `after`, at most about `maxBytes`, and the seq and time of its last line.
    public struct Batch: Sendable {
        public var bytes: [UInt8]
        public var lastSeq: UInt64
    }

    /// Lines after `after` (nil when the files hold none yet).
    public func read(after: UInt64, maxBytes: Int) -> Batch? {
        if positionSeq != after || fd < 0 { locate(after: after) }
        guard fd >= 0 else { return nil }
        var out: [UInt8] = []
        var lastSeq = after
        var buffer = [UInt8](repeating: 0, count: max(maxBytes, 1) + JournalLineEncoder.maxLineBytes + 1)
        var moves = 0
        while out.count < maxBytes && moves < 100 {
            let rotatedAway = isRotatedAway()
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            var start = 0
            if n > 0 {
                while start < n, out.count < maxBytes, let newline = buffer[start..<n].firstIndex(of: 0x0a) {
                    let line = buffer[start...newline]
                    if let seq = JournalLineEncoder.seq(of: line), seq > lastSeq {
                        out += line
                        lastSeq = seq
                    }
                    start = newline + 1
                }
                offset += Int64(start)
            }
            positionSeq = lastSeq
            if out.count >= maxBytes { break }
            if start == 0 || n <= 0 {
                // Nothing whole left here: the next file if this one was rotated, else wait for more.
                guard rotatedAway else { break }
                moveToNext(after: lastSeq)
                moves += 1
                guard fd >= 0 else { break }
            }
        }
        return out.isEmpty ? nil : Batch(bytes: out, lastSeq: lastSeq)
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

    /// Opens the newest file that can hold seq `after + 1` (rotated names carry their first seq) at its start.
    private func locate(after: UInt64) {
        let rotated = RotatedJournals.all(besides: path)
        let candidates = rotated.filter { RotatedJournals.firstSeq(of: $0).map { $0 <= after + 1 } ?? false }
        open(candidates.last ?? rotated.first ?? path)
        positionSeq = nil
        // Skip the lines up to `after` without keeping them.
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while fd >= 0 {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            guard n > 0 else { break }
            var start = 0
            while start < n, let newline = buffer[start..<n].firstIndex(of: 0x0a) {
                if let seq = JournalLineEncoder.seq(of: buffer[start...newline]), seq > after {
                    offset += Int64(start)
                    positionSeq = after
                    return
                }
                start = newline + 1
            }
            if start == 0 { break }
            offset += Int64(start)
        }
        positionSeq = after
    }

    private func open(_ file: String) {
        if fd >= 0 { close(fd) }
        fd = Glibc.open(file, O_RDONLY | O_CLOEXEC)
        offset = 0
    }

    /// After the end of a rotated file, the next one (by name; the live file comes last).
    private func moveToNext(after: UInt64) {
        var current = stat()
        fstat(fd, &current)
        let files = RotatedJournals.all(besides: path) + [path]
        let index = files.firstIndex { file in
            var st = stat()
            return stat(file, &st) == 0 && st.st_ino == current.st_ino && st.st_dev == current.st_dev
        }
        if let index, index + 1 < files.count { open(files[index + 1]) } else { locate(after: after) }
    }

    /// Whether the open file is no longer the live one (rotated or replaced).
    private func isRotatedAway() -> Bool {
        var open = stat()
        var live = stat()
        guard fstat(fd, &open) == 0, stat(path, &live) == 0 else { return true }
        return open.st_ino != live.st_ino || open.st_dev != live.st_dev
    }
}
