import CHeidiShim

#if canImport(Glibc)
import Glibc
#endif

/// Removes secrets and terminal escapes from text before it is written anywhere (journal, logs, journald, API).
///
/// Case-insensitive patterns: GitHub, GitLab, OpenAI and AWS keys, bearer tokens, private key blocks, and
/// `*_API_KEY=`/`TOKEN=`/`SECRET=`/`PASSWORD=` style assignments. A cheap byte scan decides whether the patterns
/// need to be matched at all, so ordinary output lines cost almost nothing.
public enum Redactor {
    /// Words every secret pattern holds (ASCII, matched case-insensitively): a text without any passes unchanged.
    static let triggers = [
        "private key", "github_pat", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "glpat-", "sk-", "akia", "asia",
        "bearer", "key", "token", "secret", "passw",
    ]
    private static let privateKeyTrigger = UInt32(triggers.firstIndex(of: "private key") ?? 0)

    /// The trigger words prepared for `heidi_scan_text`: built once, never written after, so sharing it is safe.
    nonisolated(unsafe) private static let triggerTable: UnsafePointer<heidi_trigger_table> = {
        let table = UnsafeMutablePointer<heidi_trigger_table>.allocate(capacity: 1)
        let words = triggers.map { strdup($0) }
        defer { words.forEach { free($0) } }
        let status = words.map { UnsafePointer($0) }.withUnsafeBufferPointer {
            heidi_trigger_table_init(table, $0.baseAddress, $0.count)
        }
        precondition(status == 0, "the redaction trigger words do not fit heidi_trigger_table")
        // Words from which only an assignment can begin ("token", "key"): the fast path's scan drops their hits when
        // no separator follows the name, so the "tokens/s" of every training-log line costs no call (the exact check
        // below still runs for every hit it reports). Not the private key trigger: its hit sends lines the slow way.
        for (index, word) in triggers.enumerated()
        where UInt32(index) != privateKeyTrigger && SecretPatterns.onlyAssignmentsBegin(at: word) {
            let marked = heidi_trigger_table_require_separator(table, index)
            precondition(marked == 0, "the trigger word '\(word)' cannot be filtered by its separator")
        }
        return UnsafePointer(table)
    }()

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
    public static func needsRedaction(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let (escape, trigger) = scan(bytes)
        return escape || trigger
    }

    /// For complete lines (each ends in a newline; none longer than output capture cuts lines at): how many lines
    /// there are when every one would pass the output pipeline as it is: ASCII without ESC or CR, and no trigger word
    /// from which a secret pattern matches (an exact check at each one found). nil when any line may need more
    /// than a copy. This is the output pipeline's fast path: one vectorized pass, whatever the text.
    public static func unchangedLineCount(_ lines: UnsafeBufferPointer<UInt8>) -> Int? {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 512) {
            (hits: UnsafeMutableBufferPointer<UInt32>) -> Int? in
            unchangedLineCount(lines, hits: hits)
        }
    }

    private static func unchangedLineCount(
        _ lines: UnsafeBufferPointer<UInt8>,
        hits: UnsafeMutableBufferPointer<UInt32>
    ) -> Int? {
        guard let base = lines.baseAddress else { return 0 }
        var hitCount = 0
        var flags: Int32 = 0
        let count = heidi_scan_text_with(
            base,
            lines.count,
            triggerTable,
            hits.baseAddress,
            hits.count,
            &hitCount,
            &flags,
            Int32(HEIDI_SCAN_OPTION_ASSIGNMENTS)
        )
        guard flags == 0, hitCount <= hits.count else { return nil }
        // Read once, not per hit (a training log has a trigger word on every line: "tokens/s").
        let keyTrigger = privateKeyTrigger
        let initials = SecretPatterns.tokenRuleInitials
        for hit in hits[0..<hitCount] {
            guard hit & 31 != keyTrigger else { return nil }  // a key block: LineRedactor's state
            if SecretPatterns.mayReplace(in: lines, at: Int(hit >> 5), initials: initials) { return nil }
        }
        return count
    }

    /// Where to cut `bytes`, a line longer than the line limit, at or before `limit`, so that no secret straddles
    /// the cut: the start of the leftmost secret (or secret-like run) that a cut at `limit` would split, moved back
    /// until none is split. Redacting each piece on its own then finds every secret whole. `bytes` should run well
    /// past `limit` (the caller holds back a lookahead), so a secret beginning before the cut is seen far enough
    /// to know it is one. `split` is true when a secret starts at the very beginning of `bytes` and runs past
    /// `limit` (a "secret" longer than a line may be): no cut avoids it, so the caller cuts at `limit` and must
    /// treat both sides as secret.
    public static func safeCut(in bytes: UnsafeBufferPointer<UInt8>, before limit: Int) -> (cut: Int, split: Bool) {
        guard let base = bytes.baseAddress, limit > 0, limit < bytes.count else { return (limit, false) }
        var hitCount = 0
        var flags: Int32 = 0
        _ = heidi_scan_text(base, bytes.count, triggerTable, nil, 0, &hitCount, &flags)
        guard hitCount > 0 else { return (limit, false) }
        var hits = [UInt32](repeating: 0, count: hitCount)
        _ = hits.withUnsafeMutableBufferPointer {
            heidi_scan_text(base, bytes.count, triggerTable, $0.baseAddress, $0.count, &hitCount, &flags)
        }
        let regions = hits.compactMap { hit -> Range<Int>? in
            let position = Int(hit >> 5)
            // A private key's "-----BEGIN …" comes up to 64 bytes before its trigger word; every other secret
            // starts at or before its trigger.
            guard position < limit + 64 else { return nil }
            return SecretPatterns.region(in: bytes, triggerAt: position)
        }
        var cut = limit
        while let start = regions.lazy.filter({ $0.lowerBound < cut && $0.upperBound > cut }).map(\.lowerBound).min() {
            if start == 0 { return (limit, true) }
            cut = start
        }
        return (cut, false)
    }

    /// How many bytes at the start of `bytes` may continue a secret that a cut split (see `safeCut`).
    public static func secretContinuation(in bytes: UnsafeBufferPointer<UInt8>) -> Int {
        bytes.firstIndex { !SecretPatterns.mayContinueSecret($0) } ?? bytes.count
    }

    /// What `heidi_scan_text` (or its scalar version) reports for `bytes`: newlines, flags, and every trigger word
    /// found (for tests).
    /// `assignments`: as the fast path scans, without the hits of assignment-only words that no separator follows.
    static func textScan(
        _ bytes: [UInt8],
        scalar: Bool = false,
        assignments: Bool = false
    ) -> (lines: Int, flags: Int32, hits: [(offset: Int, word: String)]) {
        var hits = [UInt32](repeating: 0, count: bytes.count + 1)
        var hitCount = 0
        var flags: Int32 = 0
        let options = (scalar ? HEIDI_SCAN_OPTION_SCALAR : 0) | (assignments ? HEIDI_SCAN_OPTION_ASSIGNMENTS : 0)
        let lines = bytes.withUnsafeBufferPointer { buffer in
            hits.withUnsafeMutableBufferPointer {
                heidi_scan_text_with(
                    buffer.baseAddress,
                    buffer.count,
                    triggerTable,
                    $0.baseAddress,
                    $0.count,
                    &hitCount,
                    &flags,
                    Int32(options)
                )
            }
        }
        return (lines, flags, hits[0..<hitCount].map { (Int($0 >> 5), triggers[Int($0 & 31)]) })
    }

    private static func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> (escape: Bool, trigger: Bool) {
        guard let base = bytes.baseAddress else { return (false, false) }
        var hitCount = 0
        var flags: Int32 = 0
        _ = heidi_scan_text(base, bytes.count, triggerTable, nil, 0, &hitCount, &flags)
        return (flags & Int32(HEIDI_SCAN_ESCAPE) != 0, hitCount > 0)
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
