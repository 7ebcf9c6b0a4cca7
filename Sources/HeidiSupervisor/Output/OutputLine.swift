import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// Which pipe a line came from.
public enum OutputStream: String, Sendable {
    case stdout, stderr
}

/// One line of child output, already redacted; `cut` when it was longer than the line limit and was split.
public struct OutputLine: Sendable, Equatable {
    public var stream: OutputStream
    public var text: String
    public var cut: Bool

    public init(stream: OutputStream, text: String, cut: Bool = false) {
        self.stream = stream
        self.text = text
        self.cut = cut
    }

    /// Appended to every piece of a line that was cut at the line limit, in logs and everywhere else.
    public static let cutMarker = " …[line cut at 16 KiB]"
}

/// The complete lines of one read from one pipe, as they are logged: redacted, valid UTF-8, each ending in `\n`,
/// cut pieces marked. Handled as one unit by the log file, followers and journald, so a chatty child costs one
/// `write(2)` per read, not one per line.
public struct OutputBatch: Sendable, Equatable {
    public var stream: OutputStream
    public var bytes: [UInt8]
    public var lineCount: Int
    /// The stage leader's pid (0 when unknown), stamped by the reader so every consumer knows it from the first line.
    public var pid: Int32 = 0

    public init(stream: OutputStream, bytes: [UInt8] = [], lineCount: Int = 0) {
        self.stream = stream
        self.bytes = bytes
        self.lineCount = lineCount
    }

    /// The batch split into lines (for journald and tests).
    public var lines: [OutputLine] { lines(limit: lineCount) }

    /// The first `limit` lines.
    public func lines(limit: Int) -> [OutputLine] {
        var result: [OutputLine] = []
        var start = 0
        while result.count < limit, let newline = bytes[start...].firstIndex(of: 0x0a) {
            var text = String(decoding: bytes[start..<newline], as: UTF8.self)
            let cut = text.hasSuffix(OutputLine.cutMarker)
            if cut { text.removeLast(OutputLine.cutMarker.count) }
            result.append(OutputLine(stream: stream, text: text, cut: cut))
            start = newline + 1
        }
        return result
    }
}

/// Splits a byte stream into lines across reads and turns them into an `OutputBatch`: lines longer than `maxLine`
/// bytes are emitted in pieces marked cut (never inside a UTF-8 character), invalid UTF-8 becomes U+FFFD, a trailing
/// `\r` is dropped, and secrets and terminal escapes are redacted. Lines that need none of that (the usual case,
/// decided by one allocation-free scan) are copied byte for byte by `feed`, or left where they were read by `fill`,
/// which reads straight into the batch. One assembler per pipe.
///
/// A cut never splits a secret: each piece is redacted on its own, and neither half of a split key would be
/// recognisable. So a long line is cut only once `lookahead` bytes past the limit have arrived (or the line has
/// ended), and the cut moves back to the start of any secret it would split (`Redactor.safeCut`). A "secret"
/// longer than a line may be is cut all the same: its piece is replaced whole and what continues it after the cut
/// is dropped. Read boundaries never split anything: a partial line waits in `pending`.
public struct LineAssembler: Sendable {
    public static let defaultMaxLine = 16 * 1024
    private static let stretch = 16 * 1024
    public let maxLine: Int
    /// How far past the limit a long line is read before it is cut, so a secret that begins before the cut is seen
    /// far enough to be recognised (every pattern's prefix, separator and minimum body fit many times over).
    static let lookahead = 4096
    private var pending: [UInt8] = []
    private var redactor = LineRedactor()
    /// The last cut went through a secret: the bytes that may continue it are dropped.
    private var continuesSecret = false
    /// Bytes of output this assembler has copied in user space (into a batch, or into and out of `pending`): on the
    /// fast path of `fill` only a line a read boundary split, so tests can hold the copy to that.
    public private(set) var copiedBytes = 0

    public init(maxLine: Int = LineAssembler.defaultMaxLine) {
        self.maxLine = maxLine
        pending.reserveCapacity(maxLine + Self.lookahead)
    }

    /// Inside a line that is not complete yet (bytes pending, or a cut piece emitted).
    private var midLine: Bool { !pending.isEmpty || continuesSecret }

    /// Appends the lines `bytes` completes to `batch`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, into batch: inout OutputBatch) {
        let input = bytes.bindMemory(to: UInt8.self)
        guard let base = input.baseAddress else { return }
        var start = 0
        var lineByLineUntil = 0
        while start < input.count {
            // Stretches of up to 16 KiB of clean lines (the usual case for a chatty child) are copied in one piece;
            // a stretch that is not clean is done line by line, so every byte is looked at most twice. A stretch is
            // never longer than a line may be, so nothing in it needs cutting.
            if start >= lineByLineUntil, !midLine, !redactor.isInsidePrivateKey,
                let last = input[start..<min(input.count, start + min(Self.stretch, maxLine + 1))].lastIndex(of: 0x0a)
            {
                let end = last + 1
                if appendPlainLines(UnsafeBufferPointer(rebasing: input[start..<end]), into: &batch) {
                    start = end
                    continue
                }
                lineByLineUntil = end
            }
            let rest = UnsafeBufferPointer(rebasing: input[start...])
            guard let found = memchr(base + start, 0x0a, rest.count) else {
                pending.append(contentsOf: rest)
                copiedBytes += rest.count
                cutOverlong(lineEnded: false, into: &batch)
                return
            }
            let newline = UnsafePointer(found.assumingMemoryBound(to: UInt8.self)) - (base + start)
            let line = UnsafeBufferPointer(rebasing: rest[..<newline])
            if !midLine && line.count <= maxLine {
                emit(line, cut: false, into: &batch)
            } else {
                pending.append(contentsOf: line)
                copiedBytes += line.count
                endLine(into: &batch)
            }
            start += newline + 1
        }
    }

    /// Appends `lines` (complete lines, together at most `maxLine + 1` bytes, so none needs cutting) as they are
    /// when none needs anything else done: no redaction, no decoding, no carriage return. Returns false, and
    /// appends nothing, otherwise.
    private mutating func appendPlainLines(_ lines: UnsafeBufferPointer<UInt8>, into batch: inout OutputBatch) -> Bool {
        guard let count = Redactor.unchangedLineCount(lines) else { return false }
        batch.bytes.append(contentsOf: lines)
        batch.lineCount += count
        copiedBytes += lines.count
        return true
    }

    /// The unterminated rest at end of stream, if any.
    public mutating func finish(into batch: inout OutputBatch) {
        guard midLine else { return }
        endLine(into: &batch)
    }

    /// The line in `pending` is complete: its last pieces, then the rest.
    private mutating func endLine(into batch: inout OutputBatch) {
        cutOverlong(lineEnded: true, into: &batch)
        if !pending.isEmpty || !continuesSecret {
            pending.withUnsafeBufferPointer { emit($0, cut: false, into: &batch) }
        }
        pending.removeAll(keepingCapacity: true)
        continuesSecret = false
    }

    /// Emits pieces of at most `maxLine` bytes while more than that is pending (and, before the line has ended,
    /// the lookahead past it has arrived), each cut where it splits no secret.
    private mutating func cutOverlong(lineEnded: Bool, into batch: inout OutputBatch) {
        while true {
            if continuesSecret {
                let continued = pending.withUnsafeBufferPointer { Redactor.secretContinuation(in: $0) }
                pending.removeFirst(continued)
                if pending.isEmpty { return }  // it may go on in the next read
                continuesSecret = false
            }
            guard pending.count > maxLine + (lineEnded ? 0 : Self.lookahead) else { return }
            let limit = Self.characterBoundary(pending[0..<maxLine])
            // The limit and the lookahead past it are all a cut needs to see (a secret running on past them is one
            // the cut would split either way); scanning no further keeps a flood of one long line linear.
            let (cutAt, split) = pending.withUnsafeBufferPointer {
                Redactor.safeCut(in: UnsafeBufferPointer(rebasing: $0.prefix(maxLine + Self.lookahead)), before: limit)
            }
            if split {
                // A secret from the start of the piece past its end: the piece is all secret, and so is what
                // continues it after the cut.
                batch.bytes.append(contentsOf: Self.redactedPiece)
                batch.lineCount += 1
                continuesSecret = true
            } else {
                pending.withUnsafeBufferPointer {
                    emit(UnsafeBufferPointer(rebasing: $0[0..<cutAt]), cut: true, into: &batch)
                }
            }
            pending.removeFirst(cutAt)
        }
    }

    private static let redactedPiece = Array(("[REDACTED]" + OutputLine.cutMarker + "\n").utf8)

    private mutating func emit(_ raw: UnsafeBufferPointer<UInt8>, cut: Bool, into batch: inout OutputBatch) {
        var line = raw
        if line.last == 0x0d { line = UnsafeBufferPointer(rebasing: line.dropLast()) }
        if !redactor.isInsidePrivateKey && Redactor.unchangedLineCount(line) != nil {
            batch.bytes.append(contentsOf: line)  // the usual case: ASCII, and no secret from any trigger word in it
        } else if !redactor.isInsidePrivateKey && !Redactor.needsRedaction(line) {
            // Clean: ASCII goes through as it is; anything else only needs decoding (invalid UTF-8 → U+FFFD).
            if Self.isASCII(line) {
                batch.bytes.append(contentsOf: line)
            } else {
                batch.bytes.append(contentsOf: String(decoding: line, as: UTF8.self).utf8)
            }
        } else {
            batch.bytes.append(contentsOf: redactor.redact(String(decoding: line, as: UTF8.self)).utf8)
        }
        if cut { batch.bytes.append(contentsOf: OutputLine.cutMarker.utf8) }
        batch.bytes.append(0x0a)
        batch.lineCount += 1
        copiedBytes += raw.count
    }

    private static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var all: UInt8 = 0
        for byte in bytes { all |= byte }  // no early exit: the loop vectorizes
        return all < 0x80
    }

    /// The length of `bytes` without a trailing, incomplete UTF-8 sequence (so a cut piece stays valid text).
    static func characterBoundary(_ bytes: ArraySlice<UInt8>) -> Int {
        let base = bytes.startIndex
        var lead = bytes.endIndex - 1
        while lead > base, bytes.endIndex - lead < 4, bytes[lead] & 0xC0 == 0x80 { lead -= 1 }
        guard lead >= base, bytes[lead] >= 0xC0 else { return bytes.count }
        let expected = bytes[lead] >= 0xF0 ? 4 : bytes[lead] >= 0xE0 ? 3 : 2
        return bytes.endIndex - lead < expected ? lead - base : bytes.count
    }
}

extension LineAssembler {
    /// Lines completed by `bytes`, decoded (a convenience for callers that do not batch).
    public mutating func feed<Bytes: Collection>(_ bytes: Bytes) -> [(text: String, cut: Bool)]
    where Bytes.Element == UInt8 {
        var batch = OutputBatch(stream: .stdout)
        Array(bytes).withUnsafeBytes { feed($0, into: &batch) }
        return batch.lines.map { ($0.text, $0.cut) }
    }

    /// The unterminated rest at end of stream, decoded.
    public mutating func finish() -> (text: String, cut: Bool)? {
        var batch = OutputBatch(stream: .stdout)
        finish(into: &batch)
        return batch.lines.first.map { ($0.text, $0.cut) }
    }
}

extension LineAssembler {
    /// Fills the empty `batch` by reading straight into the storage of a new byte array of `capacity` bytes (plus
    /// the line a read split last time, carried over to its start): clean lines are checked where they are and
    /// delivered in place, so a byte of a chatty child's output is copied by the kernel into the batch and never
    /// again in user space. Only the incomplete last line is copied, into `pending`, to start the next batch.
    ///
    /// `read` gets the free rest of the storage and returns how many bytes it put at its start; 0 ends the batch.
    /// At the first line that needs more than the check (a trigger word, non-ASCII, `\r`, a line the limit cuts),
    /// the bytes from that line on go through `feed` and `fill` returns without reading more: a caller that wants
    /// more in this batch reads on and feeds. Nothing is read when the state asks for line-by-line work (inside a
    /// private key, after a cut through a secret, a carried line longer than the limit) or `batch` is not empty.
    public mutating func fill(
        _ batch: inout OutputBatch,
        capacity: Int,
        read: (UnsafeMutableRawBufferPointer) -> Int
    ) {
        guard batch.bytes.isEmpty, !continuesSecret, !redactor.isInsidePrivateKey, pending.count <= maxLine else {
            return
        }
        let window = min(Self.stretch, maxLine + 1)
        let carried = pending.count
        var lines = 0
        var handOver: [UInt8] = []
        let bytes = [UInt8](unsafeUninitializedCapacity: carried + capacity) { storage, count in
            let input = UnsafeBufferPointer(storage)
            var filled = carried
            var scanned = 0
            var slow = false
            reading: while filled < storage.count {
                let n = read(UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(storage)[filled...]))
                guard n > 0 else { break }
                if filled == carried && carried > 0 {
                    // The line the last read split, in front of its rest: the only bytes copied on the fast path.
                    pending.withUnsafeBytes { UnsafeMutableRawBufferPointer(storage).copyMemory(from: $0) }
                    pending.removeAll(keepingCapacity: true)
                    copiedBytes += carried
                }
                filled += n
                // Stretches of clean lines, as `feed` takes them: at most one line's limit each, so none needs a cut.
                while true {
                    let end = min(filled, scanned + window)
                    guard let last = input[scanned..<end].lastIndex(of: 0x0a) else {
                        if end - scanned == window { slow = true }  // a line the limit cuts
                        break
                    }
                    guard let count = Redactor.unchangedLineCount(UnsafeBufferPointer(rebasing: input[scanned...last]))
                    else {
                        slow = true
                        break
                    }
                    lines += count
                    scanned = last + 1
                }
                if slow { break reading }
            }
            count = scanned
            if filled == carried { return }  // nothing read: `pending` keeps the carried line
            if slow {
                handOver = Array(input[scanned..<filled])
            } else {
                pending.append(contentsOf: input[scanned..<filled])
            }
            copiedBytes += filled - scanned
        }
        batch.bytes = bytes
        batch.lineCount = lines
        if !handOver.isEmpty { handOver.withUnsafeBytes { feed($0, into: &batch) } }
    }
}

/// The last `capacity` bytes of a stage's logged output, for the failure excerpt.
public struct OutputTail: Sendable {
    public let capacity: Int
    private var bytes: [UInt8] = []

    public init(capacity: Int = 64 * 1024) { self.capacity = capacity }

    public mutating func append(_ batch: [UInt8]) {
        bytes.append(contentsOf: batch.suffix(capacity))
        if bytes.count > 2 * capacity { bytes.removeFirst(bytes.count - capacity) }
    }

    /// The retained complete lines, oldest first.
    public var lines: [String] {
        var kept = bytes.suffix(capacity)
        // Drop a partial first line left by trimming.
        if bytes.count > capacity, let newline = kept.firstIndex(of: 0x0a) { kept = kept[(newline + 1)...] }
        return kept.split(separator: 0x0a, omittingEmptySubsequences: false).dropLast().map {
            String(decoding: $0, as: UTF8.self)
        }
    }

    /// The last `count` lines joined for a message.
    public func excerpt(lines count: Int) -> String { lines.suffix(count).joined(separator: "\n") }
}
