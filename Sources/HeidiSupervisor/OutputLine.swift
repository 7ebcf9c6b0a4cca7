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
}

/// Splits a byte stream into lines across reads; a line longer than `maxLine` bytes is emitted in pieces marked `cut`.
/// Invalid UTF-8 becomes U+FFFD; a trailing `\r` is dropped.
public struct LineAssembler: Sendable {
    public static let defaultMaxLine = 16 * 1024
    public let maxLine: Int
    private var pending: [UInt8] = []

    public init(maxLine: Int = LineAssembler.defaultMaxLine) { self.maxLine = maxLine }

    /// Lines completed by `bytes` (`cut` marks a piece of an over-long line).
    public mutating func feed<Bytes: Collection>(_ bytes: Bytes) -> [(text: String, cut: Bool)] where Bytes.Element == UInt8 {
        var lines: [(String, Bool)] = []
        for byte in bytes {
            if byte == 0x0a {
                lines.append((Self.decode(pending), false))
                pending.removeAll(keepingCapacity: true)
            } else {
                pending.append(byte)
                if pending.count >= maxLine {
                    let cutAt = Self.characterBoundary(pending)
                    lines.append((Self.decode(pending[0..<cutAt]), true))
                    pending.removeFirst(cutAt)
                }
            }
        }
        return lines
    }

    /// The length of `bytes` without a trailing, incomplete UTF-8 sequence (so a cut piece stays valid text).
    static func characterBoundary(_ bytes: [UInt8]) -> Int {
        var lead = bytes.count - 1
        while lead > 0, bytes.count - lead < 4, bytes[lead] & 0xC0 == 0x80 { lead -= 1 }
        guard lead >= 0, bytes[lead] >= 0xC0 else { return bytes.count }
        let expected = bytes[lead] >= 0xF0 ? 4 : bytes[lead] >= 0xE0 ? 3 : 2
        return bytes.count - lead < expected ? lead : bytes.count
    }

    /// The unterminated rest at end of stream, if any.
    public mutating func finish() -> (text: String, cut: Bool)? {
        guard !pending.isEmpty else { return nil }
        defer { pending.removeAll() }
        return (Self.decode(pending), false)
    }

    private static func decode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var slice = Array(bytes)
        if slice.last == 0x0d { slice.removeLast() }
        return String(decoding: slice, as: UTF8.self)
    }
}

/// The last `capacity` bytes of output lines, for the failure excerpt.
public struct OutputRing: Sendable {
    public let capacity: Int
    private var lines: [String] = []
    private var head = 0
    private var bytes = 0

    public init(capacity: Int = 64 * 1024) { self.capacity = capacity }

    public mutating func append(_ line: String) {
        lines.append(line)
        bytes += line.utf8.count + 1
        while bytes > capacity, head < lines.count - 1 {
            bytes -= lines[head].utf8.count + 1
            head += 1
        }
        if head > 1024 {
            lines.removeFirst(head)
            head = 0
        }
    }

    /// The retained lines, oldest first.
    public var contents: [String] { Array(lines[head...]) }

    /// The last `count` lines joined for a message.
    public func excerpt(lines count: Int) -> String { contents.suffix(count).joined(separator: "\n") }
}
