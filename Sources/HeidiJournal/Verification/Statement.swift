import HeidiCore

/// Machine-readable messages of the journal events that carry evidence (`checkpoint`, `journal_pruned`): a fixed
/// word, the format version `v1`, then `key=value` pairs in a fixed order, separated by single spaces. Values never
/// contain spaces or characters JSON escapes, so the message bytes in the line are the statement itself.
enum Statement {
    static func format(_ tag: String, _ fields: [(String, String)]) -> String {
        ([tag, "v1"] + fields.map { "\($0.0)=\($0.1)" }).joined(separator: " ")
    }

    /// The values of `keys`, in order, when `text` is exactly `tag v1 key=value …`; nil otherwise.
    static func parse(_ text: Substring, tag: String, keys: [String]) -> [Substring]? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == keys.count + 2, parts[0] == tag, parts[1] == "v1" else { return nil }
        var values: [Substring] = []
        for (part, key) in zip(parts.dropFirst(2), keys) {
            guard part.hasPrefix(key + "=") else { return nil }
            values.append(part.dropFirst(key.count + 1))
        }
        return values
    }

    /// A decimal without sign or leading zeros.
    static func number(_ text: Substring) -> UInt64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (48...57).contains($0) }), text == "0" || text.first != "0" else {
            return nil
        }
        return UInt64(text)
    }

    static func hex(_ text: Substring, length: Int) -> String? {
        Hex.isLowercaseHex(text, length: length) ? String(text) : nil
    }
}

/// A signed checkpoint: the message of a `checkpoint` event.
///
/// `checkpoint v1 key_id=<16 hex> seq=<N> head=<64 hex> interval=<seconds> mac=<64 hex>`
///
/// `seq` and `head` are the seq and SHA-256 of the line before the checkpoint (so `head` equals the checkpoint's own
/// `prev_hash`); `interval` is the period after which heidid writes the next one, even when idle; `mac` is
/// HMAC-SHA256, under the key with id `key_id`, of the exact bytes of the whole checkpoint line (with its newline)
/// in which the 64 digits of `mac` are replaced by `0`. The MAC therefore covers every field of the line, including
/// its `ts` and `prev_hash`, and through `prev_hash` every line before it.
public struct Checkpoint: Sendable, Equatable {
    public var keyID: String
    public var seq: UInt64
    public var head: String
    public var interval: UInt64
    public var mac: String

    static let tag = "checkpoint"
    static let keys = ["key_id", "seq", "head", "interval", "mac"]

    public init(keyID: String, seq: UInt64, head: String, interval: UInt64, mac: String = SHA256.zeroHex) {
        self.keyID = keyID
        self.seq = seq
        self.head = head
        self.interval = interval
        self.mac = mac
    }

    /// Parses a checkpoint message strictly; nil when it is not exactly the format above.
    public init?(message: Substring) {
        guard let values = Statement.parse(message, tag: Self.tag, keys: Self.keys),
            let keyID = Statement.hex(values[0], length: 16), let seq = Statement.number(values[1]),
            let head = Statement.hex(values[2], length: 64), let interval = Statement.number(values[3]), interval > 0,
            let mac = Statement.hex(values[4], length: 64)
        else { return nil }
        self.init(keyID: keyID, seq: seq, head: head, interval: interval, mac: mac)
    }

    public var message: String {
        Statement.format(
            Self.tag,
            [
                ("key_id", keyID), ("seq", String(seq)), ("head", head), ("interval", String(interval)),
                ("mac", mac),
            ]
        )
    }

    /// The MAC of an encoded checkpoint line under `key`: the line with the `mac` digits (the last 64 bytes of the
    /// message) set to `0`.
    static func computeMAC(line: [UInt8], messageEnd: Int, key: JournalKey) -> [UInt8] {
        var unsigned = line
        for index in (messageEnd - 64)..<messageEnd { unsigned[index] = UInt8(ascii: "0") }
        return key.mac(unsigned)
    }

    /// Signs an encoded checkpoint line in place; returns the signed message.
    static func sign(_ line: inout [UInt8], with key: JournalKey) -> String {
        guard let scanned = try? JournalLineScanner.scan(line) else { return "" }
        let end = scanned.message.upperBound
        let mac = Array(Hex.encode(computeMAC(line: line, messageEnd: end, key: key)).utf8)
        line.replaceSubrange((end - 64)..<end, with: mac)
        return String(decoding: line[scanned.message], as: UTF8.self)
    }

    /// Whether the line's MAC verifies under `key` (the caller has parsed the message as a checkpoint).
    static func verify(line: [UInt8], messageEnd: Int, mac: String, key: JournalKey) -> Bool {
        guard let expected = Digest(hex: mac)?.bytes else { return false }
        return HMACSHA256.equal(computeMAC(line: line, messageEnd: messageEnd, key: key), expected)
    }
}

/// The record retention writes before it removes a rotated journal file: the message of a `journal_pruned` event.
///
/// `pruned v1 file=<name> first_seq=<N> last_seq=<M> last_hash=<64 hex> bytes=<size> sha256=<64 hex>`
///
/// A verifier that finds the journal starting at seq `M+1` accepts the missing lines only when such a record says
/// that seq `M` with hash `last_hash` was pruned and `last_hash` is the first remaining line's `prev_hash`.
/// `sha256` and `bytes` identify the removed file, so an archived copy can be matched to it.
public struct PruneRecord: Sendable, Equatable {
    public var file: String
    public var firstSeq: UInt64
    public var lastSeq: UInt64
    public var lastHash: String
    public var bytes: UInt64
    public var sha256: String

    static let tag = "pruned"
    static let keys = ["file", "first_seq", "last_seq", "last_hash", "bytes", "sha256"]

    public init(file: String, firstSeq: UInt64, lastSeq: UInt64, lastHash: String, bytes: UInt64, sha256: String) {
        self.file = file
        self.firstSeq = firstSeq
        self.lastSeq = lastSeq
        self.lastHash = lastHash
        self.bytes = bytes
        self.sha256 = sha256
    }

    public init?(message: Substring) {
        guard let values = Statement.parse(message, tag: Self.tag, keys: Self.keys), !values[0].isEmpty,
            values[0].utf8.allSatisfy({ Self.nameBytes.contains($0) }),
            let first = Statement.number(values[1]), let last = Statement.number(values[2]), first >= 1, last >= first,
            let lastHash = Statement.hex(values[3], length: 64), let bytes = Statement.number(values[4]),
            let sha256 = Statement.hex(values[5], length: 64)
        else { return nil }
        self.init(
            file: String(values[0]),
            firstSeq: first,
            lastSeq: last,
            lastHash: lastHash,
            bytes: bytes,
            sha256: sha256
        )
    }

    private static let nameBytes = Set(Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-".utf8))

    public var message: String {
        Statement.format(
            Self.tag,
            [
                ("file", file), ("first_seq", String(firstSeq)), ("last_seq", String(lastSeq)),
                ("last_hash", lastHash), ("bytes", String(bytes)), ("sha256", sha256),
            ]
        )
    }
}
