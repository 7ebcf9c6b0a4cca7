import HeidiCore

/// The end of a journal copy: the last seq it holds and the SHA-256 of that line (the next line's `prev_hash`).
public struct ChainHead: Sendable, Equatable, Codable {
    public var seq: UInt64
    public var hash: String

    public static let empty = ChainHead(seq: 0, hash: SHA256.zeroHex)

    public init(seq: UInt64, hash: String) {
        self.seq = seq
        self.hash = hash
    }
}

/// What a batch of journal lines does to a copy whose end is `head` (pure: no files, no clock).
public struct ChainCheck: Sendable, Equatable {
    /// Why the batch stopped being appended.
    public enum Stop: Sendable, Equatable {
        /// The whole batch was taken (lines at or below the head are duplicates, skipped).
        case none
        /// A line's seq is past `head.seq + 1`: lines are missing; the worker rewinds to the head.
        case gap(expected: UInt64, got: UInt64)
        /// The next line's `prev_hash` is not the head's hash: the worker's journal and this copy disagree.
        case fork(seq: UInt64, expected: String, got: String)
        /// Not a journal line (no seq or prev_hash where a v2 line has them), or a batch without a final newline.
        case malformed(String)
    }

    /// The bytes to append (whole lines, each already checked), in order.
    public var append: ArraySlice<UInt8>
    /// The copy's end after appending.
    public var head: ChainHead
    /// Lines appended and duplicates skipped.
    public var appended: Int
    public var duplicates: Int
    public var stop: Stop

    /// Checks `batch` (whole lines, each ending in `\n`) against `head`. A copy with nothing yet (`head.seq == 0`)
    /// takes a first line with any seq (a worker whose oldest files were pruned starts after 1), like the verifier.
    public static func check(_ batch: [UInt8], after head: ChainHead) -> ChainCheck {
        var result = ChainCheck(append: batch[0..<0], head: head, appended: 0, duplicates: 0, stop: .none)
        var start = 0
        var appendStart: Int?
        while start < batch.count {
            guard let newline = batch[start...].firstIndex(of: 0x0a) else {
                result.stop = .malformed("the batch ends in \(batch.count - start) bytes without a newline")
                break
            }
            let line = batch[start...newline]
            guard let seq = JournalLineEncoder.seq(of: line), let prev = prevHash(of: line) else {
                result.stop = .malformed("byte \(start) is not a heidi v2 journal line (no seq or prev_hash)")
                break
            }
            if seq <= result.head.seq {
                if appendStart != nil {
                    result.stop = .gap(expected: result.head.seq + 1, got: seq)
                    break
                }
                // The copy's last line sent again must be the same line: anything else is a rewritten journal.
                if seq == result.head.seq, SHA256.hex(line) != result.head.hash {
                    result.stop = .fork(seq: seq, expected: result.head.hash, got: SHA256.hex(line))
                    break
                }
                result.duplicates += 1
                start = newline + 1
                continue
            }
            let first = result.head.seq == 0 && result.appended == 0
            if !first && seq != result.head.seq + 1 {
                result.stop = .gap(expected: result.head.seq + 1, got: seq)
                break
            }
            if first && seq == 1 && prev != SHA256.zeroHex || !first && prev != result.head.hash {
                result.stop = .fork(seq: seq, expected: first ? SHA256.zeroHex : result.head.hash, got: prev)
                break
            }
            if appendStart == nil { appendStart = start }
            result.head = ChainHead(seq: seq, hash: SHA256.hex(line))
            result.appended += 1
            start = newline + 1
        }
        // `start` is the end of the last line taken: a stop leaves it at the start of the offending line.
        if let appendStart { result.append = batch[appendStart..<start] }
        return result
    }

    /// The `prev_hash` of a v2 line: its last field, `"prev_hash":"<64 hex>"}\n`.
    public static func prevHash(of line: ArraySlice<UInt8>) -> String? {
        let suffix = Array(#""prev_hash":""#.utf8)
        let total = suffix.count + 64 + 3
        guard line.count > total else { return nil }
        let tail = line.suffix(total)
        guard tail.prefix(suffix.count).elementsEqual(suffix), tail.suffix(3).elementsEqual([0x22, 0x7d, 0x0a]) else {
            return nil
        }
        let hex = tail.dropFirst(suffix.count).prefix(64)
        guard hex.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return nil }
        return String(decoding: hex, as: UTF8.self)
    }
}
