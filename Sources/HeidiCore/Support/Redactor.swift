import CHeidiShim

/// Removes secrets and terminal escapes from text before it is written anywhere (journal, logs, journald, API).
///
/// Case-insensitive patterns: GitHub, GitLab, OpenAI and AWS keys, bearer tokens, private key blocks, and
/// `*_API_KEY=`/`TOKEN=`/`SECRET=`/`PASSWORD=` style assignments. A cheap byte scan decides whether the patterns
/// need to be matched at all, so ordinary output lines cost almost nothing.
public enum Redactor {
    private static let triggers: [[UInt8]] = [
        "private key", "github_pat", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "glpat-", "sk-", "akia", "asia",
        "bearer", "key", "token", "secret", "passw",
    ].map { Array($0.utf8) }

    /// `text` with secrets replaced by markers like `[OPENAI_KEY]` and ANSI escape sequences removed
    /// (`SecretPatterns` has the patterns).
    public static func redact(_ text: String) -> String {
        var text = text
        var (hasEscape, suspicious) = text.withUTF8 { scan($0) }
        guard hasEscape || suspicious else { return text }
        var bytes = Array(text.utf8)
        if hasEscape {
            bytes = SecretPatterns.removeEscapes(from: bytes)
            // A secret's name may have been split by an escape sequence ("TO\e[1mKEN=..."): look again without them.
            suspicious = bytes.withUnsafeBufferPointer { scan($0).trigger }
        }
        if suspicious { bytes = SecretPatterns.replaceSecrets(in: bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `redact` could change these bytes (an escape character or a trigger word, ASCII case-insensitive).
    /// Allocation-free, one pass: the output pipeline calls it for every child line and copies clean lines as they are.
    public static func needsRedaction(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let (escape, trigger) = scan(bytes)
        return escape || trigger
    }

    /// A quick, exact pre-check over a whole buffer of lines: when it is ASCII without escape characters, carriage
    /// returns and letters (every trigger starts with a letter), every line in it passes `redact` unchanged, and
    /// this returns how many lines (newlines) it holds; otherwise nil. 16 bytes at a time: typical for numeric and
    /// progress output; text fails it and takes the exact per-line scan.
    public static func plainLineCount(_ bytes: UnsafeRawBufferPointer) -> Int? {
        assert(triggers.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0[0]) }, "plainLineCount relies on this")
        guard let base = bytes.baseAddress else { return 0 }
        let count = heidi_plain_lines(base.assumingMemoryBound(to: UInt8.self), bytes.count)
        return count < 0 ? nil : count
    }

    /// Per byte value, the triggers (as bits) whose first and whose second byte it is.
    private static let triggerTables: (first: [UInt16], second: [UInt16]) = {
        var first = [UInt16](repeating: 0, count: 256)
        var second = [UInt16](repeating: 0, count: 256)
        for (index, trigger) in triggers.enumerated() {
            first[Int(trigger[0])] |= 1 << index
            second[Int(trigger[1])] |= 1 << index
        }
        return (first, second)
    }()

    private static func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> (escape: Bool, trigger: Bool) {
        guard let firstByte = bytes.first else { return (false, false) }
        var escape = firstByte == 0x1b
        var trigger = false
        triggerTables.first.withUnsafeBufferPointer { first in
            triggerTables.second.withUnsafeBufferPointer { second in
                var previous = lowercased(firstByte)
                var index = 1
                while index < bytes.count {
                    let byte = bytes[index]
                    if byte == 0x1b { escape = true }
                    let current = lowercased(byte)
                    var candidates = trigger ? 0 : first[Int(previous)] & second[Int(current)]
                    while candidates != 0 {
                        if matches(triggers[candidates.trailingZeroBitCount], bytes, at: index - 1) { trigger = true }
                        candidates &= candidates - 1
                    }
                    if escape && trigger { return }
                    previous = current
                    index += 1
                }
            }
        }
        return (escape, trigger)
    }

    @inline(__always)
    private static func lowercased(_ byte: UInt8) -> UInt8 { byte &- 65 < 26 ? byte | 0x20 : byte }

    private static func matches(_ trigger: [UInt8], _ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        guard bytes.count - start >= trigger.count else { return false }
        for offset in 2..<trigger.count where lowercased(bytes[start + offset]) != trigger[offset] { return false }
        return true
    }
}

/// Redacts a stream of lines, including the body lines of a multi-line private key block.
public struct LineRedactor: Sendable {
    private var insidePrivateKey = false

    public init() {}

    /// Inside a private key block every line is replaced, whatever it contains.
    public var isInsidePrivateKey: Bool { insidePrivateKey }

    public mutating func redact(_ line: String) -> String {
        let upper = line.uppercased()
        if insidePrivateKey {
            if upper.contains("-----END") && upper.contains("PRIVATE KEY-----") { insidePrivateKey = false }
            return "[PRIVATE_KEY]"
        }
        if upper.contains("-----BEGIN") && upper.contains("PRIVATE KEY-----")
            && !(upper.contains("-----END") && upper.contains("PRIVATE KEY-----", after: "-----END"))
        {
            insidePrivateKey = true
        }
        return Redactor.redact(line)
    }
}

extension String {
    fileprivate func contains(_ needle: String, after marker: String) -> Bool {
        guard let range = self.firstRange(of: marker) else { return false }
        return self[range.upperBound...].contains(needle)
    }
}
