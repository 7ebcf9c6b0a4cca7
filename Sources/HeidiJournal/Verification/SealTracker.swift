import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// The event types verification treats specially.
enum EventKind {
    case checkpoint, journalPruned, journalDamaged, daemonStart, daemonStop, journalRecovered, other

    /// The kind of the raw `event_type` bytes at `range` of `line`.
    init(_ line: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
        func equals(_ name: StaticString) -> Bool {
            guard range.count == name.utf8CodeUnitCount, let base = line.baseAddress else { return false }
            return memcmp(base + range.lowerBound, name.utf8Start, range.count) == 0
        }
        if equals("checkpoint") {
            self = .checkpoint
        } else if equals("journal_pruned") {
            self = .journalPruned
        } else if equals("journal_damaged") {
            self = .journalDamaged
        } else if equals("daemon_start") {
            self = .daemonStart
        } else if equals("daemon_stop") {
            self = .daemonStop
        } else if equals("journal_recovered") {
            self = .journalRecovered
        } else {
            self = .other
        }
    }
}

/// The sealing rules a keyed verification enforces, fed line by line (FSS and CloudTrail lessons: require the
/// seal, require its continuity, report the unsealed tail):
///
/// - every line lies at most one checkpoint interval (plus slack) after the latest checkpoint, `daemon_start` or
///   `journal_recovered` before it (heidid writes a checkpoint before any line that would break this, and on a
///   timer even when idle), so a run of forged lines after a cut cannot pose as an old unsealed tail;
/// - a journal that ends with `daemon_stop` has the shutdown checkpoint right before it;
/// - otherwise the last checkpoint is younger than its interval (plus slack) at verification time.
struct SealTracker {
    let keyed: Bool
    private(set) var checkpoints = 0
    private(set) var last: CheckpointSummary?
    private var lastTime: Int64 = 0
    private var interval: Int64?
    private var periodStart: Int64?
    /// Lines after the last checkpoint.
    private(set) var unsealed = 0
    private var stopSealed = false
    private(set) var lastKind = EventKind.other

    init(keyed: Bool) { self.keyed = keyed }

    static func slack(_ interval: Int64) -> Int64 { 60_000_000 + interval / 10 }

    /// A checkpoint whose claims and MAC were checked.
    mutating func checkpoint(_ checkpoint: Checkpoint, seq: UInt64, time: Int64, ts: String) {
        checkpoints += 1
        last = CheckpointSummary(seq: seq, ts: ts, keyID: checkpoint.keyID, intervalSeconds: checkpoint.interval)
        lastTime = time
        interval = Int64(clamping: checkpoint.interval) * 1_000_000
        periodStart = time
        unsealed = 0
        lastKind = .checkpoint
    }

    /// Any other line; returns why it breaks the cadence, if it does.
    mutating func line(_ kind: EventKind, time: Int64) -> String? {
        switch kind {
        case .daemonStart, .journalRecovered:
            periodStart = time
        default:
            if keyed, let start = periodStart, let interval, time > start + interval + Self.slack(interval) {
                return
                    "no checkpoint for \(Units.formatDuration(Double(time - start) / 1e6)) before this line, although "
                    + "heidid writes one every \(Units.formatDuration(Double(interval) / 1e6)): checkpoints are missing "
                    + "(lines were cut and re-written, or written without the key)"
            }
        }
        if kind == .daemonStop { stopSealed = unsealed == 0 && checkpoints > 0 }
        unsealed += 1
        lastKind = kind
        return nil
    }

    /// The end-of-journal rules (keyed only); `torn` excuses a missing shutdown checkpoint (the daemon crashed).
    func finish(now: Timestamp?, torn: Bool, key: String) -> String? {
        guard keyed else { return nil }
        guard let last else {
            return
                "no checkpoint: a key was given (\(key)), but no line is sealed; heidid with journal.key_file writes one "
                + "when it starts (fail closed)"
        }
        if lastKind == .daemonStop {
            guard stopSealed, unsealed == 1 else {
                return
                    "the journal ends with daemon_stop, but not right after the checkpoint heidid writes when it stops: "
                    + "lines after seq \(last.seq) were cut or re-written"
            }
            return nil
        }
        if let now, !torn, let interval, now.microseconds > lastTime + interval + Self.slack(interval) {
            return
                "checkpoint overdue: the last one (seq \(last.seq), \(last.ts)) is \(Units.formatDuration(Double(now.microseconds - lastTime) / 1e6)) "
                + "old, and heidid writes one every \(Units.formatDuration(Double(interval) / 1e6)) and before it stops: the journal was "
                + "cut off after it, or heidid died without stopping (a restart seals the tail)"
        }
        return nil
    }
}

/// Finds where `--since-checkpoint` starts: the newest checkpoint line that verifies with one of the keys, read
/// backwards from the end of the newest file, so only the tail of a large journal is read.
enum CheckpointLocator {
    struct Start {
        var fileIndex: Int
        var offset: Int64
        /// The checkpoint line's seq, and the hash of the line before it (its `prev_hash`).
        var seq: UInt64
        var head: Digest
    }

    static func newest(in files: [String], keys: [JournalKey]) throws(FileSystemError) -> Start? {
        for index in files.indices.reversed() {
            if let found = try newest(in: files[index], keys: keys) {
                return Start(fileIndex: index, offset: found.offset, seq: found.seq, head: found.head)
            }
        }
        return nil
    }

    private static func newest(
        in path: String,
        keys: [JournalKey]
    ) throws(FileSystemError) -> (offset: Int64, seq: UInt64, head: Digest)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileSystemError(path: path, operation: "stat", errno: errno) }
        let block = Int64(1 << 20)
        var end = Int64(st.st_size)
        var fragment: [UInt8] = []  // the start of a line that continues into the block read before
        let marker = Array(#","event_type":"checkpoint","#.utf8)
        while end > 0 {
            let start = max(0, end - block)
            var data = [UInt8](repeating: 0, count: Int(end - start))
            let n = data.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
            guard n == data.count else {
                throw FileSystemError(path: path, operation: "read", errno: n < 0 ? errno : EIO)
            }
            data += fragment
            let first = start == 0 ? 0 : (data.firstIndex(of: 0x0a).map { $0 + 1 } ?? data.count)
            var lineEnd = data.lastIndex(of: 0x0a).map { $0 + 1 } ?? first
            while lineEnd > first {
                let lineStart = data[first..<(lineEnd - 1)].lastIndex(of: 0x0a).map { $0 + 1 } ?? first
                let line = Array(data[lineStart..<lineEnd])
                if line.count > marker.count, line.firstRange(of: marker) != nil, let found = verified(line, keys: keys)
                {
                    return (start + Int64(lineStart), found.seq, found.head)
                }
                lineEnd = lineStart
            }
            fragment = Array(data[0..<first])
            // Not a journal; full verification says why.
            if fragment.count > JournalLineEncoder.maxLineBytes { return nil }
            end = start
        }
        return nil
    }

    private static func verified(_ line: [UInt8], keys: [JournalKey]) -> (seq: UInt64, head: Digest)? {
        guard let scanned = try? JournalLineScanner.scan(line),
            let checkpoint = Checkpoint(message: Substring(String(decoding: line[scanned.message], as: UTF8.self))),
            let key = keys.first(where: { $0.id == checkpoint.keyID }),
            Checkpoint.verify(line: line, messageEnd: scanned.message.upperBound, mac: checkpoint.mac, key: key),
            checkpoint.seq + 1 == scanned.seq,
            let head = Digest(hex: checkpoint.head),
            let prev = Digest(hex: String(decoding: line[scanned.prevHash..<(scanned.prevHash + 64)], as: UTF8.self)),
            prev == head
        else { return nil }
        return (scanned.seq, head)
    }
}
