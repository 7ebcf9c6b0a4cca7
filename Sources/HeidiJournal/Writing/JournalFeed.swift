import HeidiCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A bounded queue of live journal lines for one follower. The writer's owner pushes without ever waiting; a
/// follower that falls more than `limit` bytes behind is cut loose (its queue is dropped at once) and catches up
/// from the journal files instead, so a slow follower neither blocks the engine nor holds more than `limit` bytes.
public final class LiveLineBuffer: Sendable {
    /// What the follower gets next.
    public enum Item: Sendable, Equatable {
        case line([UInt8])
        /// The queue overflowed and was dropped: continue from the files.
        case behind
        case finished
    }

    private struct State {
        var lines: [[UInt8]] = []
        var head = 0
        var bytes = 0
        var overflowed = false
        var closed = false
        var waiter: CheckedContinuation<Item, Never>?
    }

    public let limit: Int
    private let state = Mutex(State())

    public init(limit: Int = 4 << 20) { self.limit = limit }

    /// Queues `line`; false when this buffer takes no more lines (it overflowed, was finished, or its reader is
    /// gone), so the caller can forget it.
    public func push(_ line: [UInt8]) -> Bool {
        var wake: CheckedContinuation<Item, Never>?
        let accepted = state.withLock { s -> Bool in
            if s.overflowed || s.closed { return false }
            if let waiter = s.waiter {
                s.waiter = nil
                wake = waiter
                return true
            }
            if s.bytes + line.count > limit {
                s.overflowed = true
                s.lines = []
                s.head = 0
                s.bytes = 0
                return false
            }
            s.lines.append(line)
            s.bytes += line.count
            return true
        }
        wake?.resume(returning: .line(line))
        return accepted
    }

    /// Ends the stream after the queued lines (shutdown), or at once for a reader that is gone.
    public func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<Item, Never>? in
            s.closed = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: .finished)
    }

    /// The next line, waiting for one if needed; `.behind` after an overflow, `.finished` at the end. Cancelling
    /// the waiting task finishes the buffer.
    public func next() async -> Item {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Item, Never>) in
                let ready = state.withLock { s -> Item? in
                    if s.head < s.lines.count {
                        let line = s.lines[s.head]
                        s.head += 1
                        s.bytes -= line.count
                        if s.head == s.lines.count {
                            s.lines.removeAll(keepingCapacity: true)
                            s.head = 0
                        }
                        return .line(line)
                    }
                    if s.overflowed { return .behind }
                    if s.closed { return .finished }
                    s.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }

    /// Bytes queued now (for tests and metrics).
    public var queuedBytes: Int { state.withLock { $0.bytes } }
}

/// One `GET /api/v1/events` reader: journal lines with seq greater than `after`, byte for byte, read lazily from
/// the files (rotated ones too) at the reader's pace, then live lines from a `LiveLineBuffer`. When the buffer
/// overflows, the feed goes back to the files where it stopped, so a follower never misses or repeats a line and
/// memory stays bounded whatever the journal's size or the client's speed.
public actor JournalFeed {
    /// What the engine answers when the feed has read everything in the files.
    public enum Subscription: Sendable {
        /// Live lines follow in this buffer.
        case live(LiveLineBuffer)
        /// The journal has lines after the given seq that the files must still provide.
        case behind
        /// The daemon is stopping: end the stream.
        case closed
    }

    private var cursor: UInt64
    private let endSeq: UInt64?
    private let subscribe: @Sendable (UInt64) async -> Subscription
    private var files: JournalFileCursor
    private var live: LiveLineBuffer?
    private var fruitlessSubscriptions = 0

    /// `endSeq` ends the stream after that seq (no follow); otherwise `subscribe(seq)` is asked for live lines
    /// whenever the files are exhausted.
    public init(
        path: String,
        after: UInt64,
        endSeq: UInt64?,
        subscribe: @escaping @Sendable (UInt64) async -> Subscription
    ) {
        self.cursor = after
        self.endSeq = endSeq
        self.subscribe = subscribe
        self.files = JournalFileCursor(path: path)
    }

    deinit { live?.finish() }

    /// The next chunk of whole lines, or nil at the end of the stream.
    public func next() async -> [UInt8]? {
        while true {
            if let buffer = live {
                switch await buffer.next() {
                case .line(let line):
                    guard let seq = JournalLineEncoder.seq(of: line), seq > cursor else { continue }
                    cursor = seq
                    return line
                case .behind:
                    live = nil
                    continue
                case .finished:
                    return nil
                }
            }
            if let endSeq, cursor >= endSeq { return nil }
            if let chunk = files.read(after: cursor, through: endSeq) {
                cursor = chunk.lastSeq
                fruitlessSubscriptions = 0
                return chunk.bytes
            }
            guard endSeq == nil else { return nil }
            switch await subscribe(cursor) {
            case .live(let buffer): live = buffer
            case .closed: return nil
            case .behind:
                // The engine has lines the files did not give: a write in flight, or a file that changed under us.
                fruitlessSubscriptions += 1
                if fruitlessSubscriptions > 3 { return nil }  // the client reconnects after its last seq
                await Task.yield()
            }
        }
    }
}

/// Reads whole journal lines after a seq from the live file and its rotated predecessors, following rotation: the
/// one reader of a journal's files by seq, used by the journal's followers and by a fleet worker's shipper. Reading
/// on from where the last read ended (or from later) costs no rescan; a read after an earlier seq (a rewind) starts
/// over from the file that holds it. One owner at a time.
public final class JournalFileCursor {
    public let path: String
    private var fd: Int32 = -1
    private var offset: Int64 = 0
    /// The seq of the last line read or passed: the open file's position is valid for any read after it or later.
    private var positionSeq: UInt64?
    public static let chunkSize = 256 * 1024

    public init(path: String) { self.path = path }

    deinit { if fd >= 0 { close(fd) } }

    /// Lines with seq in (`after`, `through`] as one chunk of about `maxBytes` bytes at most, or nil when the
    /// files hold no more.
    public func read(
        after: UInt64,
        through: UInt64? = nil,
        maxBytes: Int = chunkSize
    ) -> (bytes: [UInt8], lastSeq: UInt64)? {
        // A rewind starts over from the file holding `after + 1`; reading on past lines already passed needs none
        // (they are skipped by seq).
        if let positionSeq, after < positionSeq, fd >= 0 {
            close(fd)
            fd = -1
        }
        let chunk = readChunk(after: after, through: through, maxBytes: max(maxBytes, 1))
        positionSeq = chunk?.lastSeq ?? after
        return chunk
    }

    private func readChunk(after: UInt64, through: UInt64?, maxBytes: Int) -> (bytes: [UInt8], lastSeq: UInt64)? {
        var moves = 0
        var buffer = [UInt8](repeating: 0, count: maxBytes + JournalLineEncoder.maxLineBytes + 1)
        while moves < 1000 {
            if fd < 0 { locate(after: after) }
            guard fd >= 0 else { return nil }
            // Checked before reading: a file renamed before this read holds everything ever written to it.
            let rotatedAway = isRotatedAway()
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            if n <= 0 {
                guard rotatedAway else { return nil }
                moveToNextFile(after: after)
                moves += 1
                continue
            }
            var out: [UInt8] = []
            var lastSeq = after
            var start = 0
            while start < n, out.count < maxBytes, let newline = buffer[start..<n].firstIndex(of: 0x0a) {
                let line = buffer[start...newline]
                if let seq = JournalLineEncoder.seq(of: line), seq > lastSeq {
                    if let through, seq > through { return out.isEmpty ? nil : (out, lastSeq) }
                    out += line
                    lastSeq = seq
                }
                start = newline + 1
                offset += Int64(line.count)
            }
            if !out.isEmpty { return (out, lastSeq) }
            if start == 0 {
                // Only part of a line so far (being written), or a whole buffer without a newline (not a journal
                // line: skip it rather than stall).
                if n == buffer.count {
                    offset += Int64(n)
                } else if rotatedAway {
                    moveToNextFile(after: after)
                    moves += 1
                } else {
                    return nil
                }
            }
        }
        return nil
    }

    /// Opens the newest file that can hold seq `after + 1` (rotated names carry their first seq).
    private func locate(after: UInt64) {
        let rotated = RotatedJournals.all(besides: path)
        let candidates = rotated.filter { RotatedJournals.firstSeq(of: $0).map { $0 <= after + 1 } ?? false }
        open(candidates.last ?? rotated.first ?? path)
    }

    private func open(_ file: String) {
        if fd >= 0 { close(fd) }
        fd = Glibc.open(file, O_RDONLY | O_CLOEXEC)
        offset = 0
    }

    /// After the end of a rotated file, the next one (by name; the live file comes last).
    private func moveToNextFile(after: UInt64) {
        var current = stat()
        fstat(fd, &current)
        let files = RotatedJournals.all(besides: path) + [path]
        let index = files.firstIndex { file in
            var st = stat()
            return stat(file, &st) == 0 && st.st_ino == current.st_ino && st.st_dev == current.st_dev
        }
        if let index, index + 1 < files.count { open(files[index + 1]) } else { locate(after: after) }
    }

    /// Whether the open file is no longer the live one (it was rotated or replaced).
    private func isRotatedAway() -> Bool {
        var open = stat()
        var live = stat()
        guard fstat(fd, &open) == 0, stat(path, &live) == 0 else { return true }
        return open.st_ino != live.st_ino || open.st_dev != live.st_dev
    }
}
