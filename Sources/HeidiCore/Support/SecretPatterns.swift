/// The patterns `Redactor` removes, matched by hand over UTF-8 bytes.
///
/// Each pattern is a literal prefix and a run of one ASCII character class, so a direct scan does what regular
/// expressions did, with the same leftmost, non-overlapping, greedy matches. Written by hand rather than with Swift
/// Regex because the regex path was costly where it matters: every output line that mentions "token" or "key" (most
/// training logs print tokens per second) ran eight regular expressions, and the first such line parsed and compiled
/// them, which kept the regex parser and compiler (~0.9 MiB of code) resident in the idle daemon. `SecretPatternsTests`
/// checks these matchers against the regular expressions they replaced, on generated lines.
///
/// Letters match ASCII case-insensitively; a pattern's characters are ASCII, so a match never splits a UTF-8
/// sequence, and whitespace is Unicode's White_Space, as `\s` was.
enum SecretPatterns {
    /// `bytes` with every secret replaced by its marker, the rules applied one after another as before.
    static func replaceSecrets(in bytes: [UInt8]) -> [UInt8] {
        var result = bytes
        func apply(_ marker: [UInt8], _ match: (UnsafeBufferPointer<UInt8>, Int) -> Match?) {
            if let replaced = result.withUnsafeBufferPointer({ replaceAll(in: $0, with: marker, matching: match) }) {
                result = replaced
            }
        }
        apply(Array("[PRIVATE_KEY]".utf8), replacingWhole(privateKeyBlock))
        for rule in tokenRules { apply(rule.marker, replacingWhole(rule.match)) }
        apply(redacted, assignment)
        return result
    }

    /// A pattern that gives where its match ends, as a `Match` that replaces all of it.
    private static func replacingWhole(
        _ match: @escaping (UnsafeBufferPointer<UInt8>, Int) -> Int?
    )
        -> (UnsafeBufferPointer<UInt8>, Int) -> Match?
    {
        { bytes, start in match(bytes, start).map { Match(end: $0, replacedFrom: start) } }
    }

    /// `bytes` without ANSI escape sequences: ESC and one byte of `@`–`_` (not `[`), or a CSI sequence
    /// (ESC `[`, parameter bytes, intermediate bytes, a final byte). An ESC that starts neither stays.
    static func removeEscapes(from bytes: [UInt8]) -> [UInt8] {
        let removed = bytes.withUnsafeBufferPointer { buffer in
            replaceAll(in: buffer, with: []) { bytes, start in
                guard bytes[start] == 0x1B, start + 1 < bytes.count else { return nil }
                let next = bytes[start + 1]
                if (0x40...0x5F).contains(next) && next != 0x5B { return Match(end: start + 2, replacedFrom: start) }
                guard next == 0x5B else { return nil }
                var end = skip(bytes, from: start + 2) { (0x30...0x3F).contains($0) }
                end = skip(bytes, from: end) { (0x20...0x2F).contains($0) }
                return end < bytes.count && (0x40...0x7E).contains(bytes[end])
                    ? Match(end: end + 1, replacedFrom: start) : nil
            }
        }
        return removed ?? bytes
    }

    /// Whether a secret pattern could start from the trigger word found at `position` of `lines` (ASCII lines): a
    /// token whose prefix is there, or an assignment to the name that holds it. Every match of every pattern holds a
    /// trigger word, so lines for which this is false at each one pass `replaceSecrets` unchanged. Asked of several
    /// lines at once it may say yes where one line alone would not (whitespace may run across a newline), never the
    /// other way round. (`Redactor` sends lines with a private key marker the slow way without asking.)
    /// Called once per trigger word of every line a child prints (every "tokens/s" of a training log): the helpers
    /// it calls are inlined, and a caller that asks for many positions passes `tokenRuleInitials` read once (each
    /// read of a lazily initialised static is a call).
    static func mayReplace(
        in lines: UnsafeBufferPointer<UInt8>,
        at position: Int,
        initials: UInt32 = tokenRuleInitials
    ) -> Bool {
        let initial = lines[position] | 0x20
        if initial &- 0x61 < 26 && initials & (1 << (initial - 0x61)) != 0,
            tokenRules.contains(where: { $0.match(lines, at: position) != nil })
        {
            return true
        }
        // An assignment needs a separator right after the name: most names ("tokens/s") have none. (A plain loop:
        // `skip(_:from:while:)` with a function value is not inlined, and this runs for every trigger word.)
        var nameEnd = position
        while nameEnd < lines.count && isNameCharacter(lines[nameEnd]) { nameEnd += 1 }
        guard separatorEnd(lines, from: nameEnd) != nil else { return false }
        var nameStart = position
        while nameStart > 0 && isNameCharacter(lines[nameStart - 1]) { nameStart -= 1 }
        return assignment(lines, at: nameStart)?.replacedFrom != nil
    }

    /// Whether every secret that can start where `word` (a trigger word) stands is an assignment to a name holding it:
    /// no token rule's prefix agrees with `word` as far as both go, so no token can start there.
    static func onlyAssignmentsBegin(at word: String) -> Bool {
        let text = lower(word)
        return !tokenRules.contains { rule in rule.prefixes.contains { $0.starts(with: text) || text.starts(with: $0) }
        }
    }

    /// The bytes a secret found from the trigger word at `position` occupies, as far as `bytes` shows it: a token
    /// from its prefix, an assignment from the secret name at the end of its name (a cut before that leaves the name's
    /// end, the separator and the value together), a private key block from its `-----BEGIN` line. A cut inside
    /// this range would leave a piece of the secret in each part, neither recognisable on its own. nil when no
    /// pattern matches there (or only one whose value is already a marker).
    static func region(in bytes: UnsafeBufferPointer<UInt8>, triggerAt position: Int) -> Range<Int>? {
        var region: Range<Int>?
        func add(_ range: Range<Int>) {
            guard !range.isEmpty else { return }
            region = region.map { min($0.lowerBound, range.lowerBound)..<max($0.upperBound, range.upperBound) } ?? range
        }
        for rule in tokenRules { if let end = rule.match(bytes, at: position) { add(position..<end) } }
        var nameStart = position
        while nameStart > 0 && isNameCharacter(bytes[nameStart - 1]) { nameStart -= 1 }
        if isNameCharacter(bytes[nameStart]), let found = assignment(bytes, at: nameStart), found.replacedFrom != nil {
            let nameEnd = skip(bytes, from: nameStart, while: isNameCharacter)
            let longestName = secretNames.map(\.count).max() ?? 0
            add(max(nameStart, nameEnd - longestName)..<found.end)
        }
        // "-----BEGIN " and a run of letters and spaces come before the trigger "private key".
        var begin = position
        while begin > 0 && position - begin < 64 && !hasPrefix(bytes, beginMarker, at: begin) { begin -= 1 }
        if hasPrefix(bytes, beginMarker, at: begin), let end = privateKeyBlock(bytes, at: begin) { add(begin..<end) }
        return region
    }

    /// Whether `byte` may continue an assignment's value (`[^\s"',;]`, ASCII), the widest body any pattern has.
    static func mayContinueSecret(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F && !isQuote(byte) && byte != UInt8(ascii: ",") && byte != UInt8(ascii: ";")
    }

    // MARK: - Token rules

    /// A literal prefix (any of `prefixes`), optional whitespace, and a run of `body` characters.
    private struct TokenRule {
        let prefixes: [[UInt8]]
        /// `bearer\s+`: at least one whitespace character between the prefix and the body.
        var whitespaceAfterPrefix = false
        let body: @Sendable (UInt8) -> Bool
        let minimum: Int
        /// The body's exact length when set (`{16}`), else as long as it runs (`{n,}`).
        var exactLength = false
        let marker: [UInt8]

        func match(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> Int? {
            for prefix in prefixes where SecretPatterns.hasPrefix(bytes, prefix, at: start) {
                var index = start + prefix.count
                if whitespaceAfterPrefix {
                    let afterPrefix = index
                    index = SecretPatterns.skipWhitespace(bytes, from: index)
                    guard index > afterPrefix else { continue }
                }
                let bodyStart = index
                while index < bytes.count && body(bytes[index]) && !(exactLength && index - bodyStart == minimum) {
                    index += 1
                }
                if index - bodyStart >= minimum { return index }
            }
            return nil
        }
    }

    private static let tokenRules: [TokenRule] = [
        TokenRule(
            prefixes: ["github_pat_"].map(lower),
            body: { isAlphanumeric($0) || $0 == underscore },
            minimum: 20,
            marker: Array("[GITHUB_TOKEN]".utf8)
        ),
        TokenRule(
            prefixes: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"].map(lower),
            body: isAlphanumeric,
            minimum: 30,
            marker: Array("[GITHUB_TOKEN]".utf8)
        ),
        TokenRule(
            prefixes: ["glpat-"].map(lower),
            body: isTokenCharacter,
            minimum: 20,
            marker: Array("[GITLAB_TOKEN]".utf8)
        ),
        TokenRule(
            prefixes: ["sk-"].map(lower),
            body: isTokenCharacter,
            minimum: 20,
            marker: Array("[OPENAI_KEY]".utf8)
        ),
        TokenRule(
            prefixes: ["akia", "asia"].map(lower),
            body: isAlphanumeric,
            minimum: 16,
            exactLength: true,
            marker: Array("[AWS_KEY]".utf8)
        ),
        TokenRule(
            prefixes: ["bearer"].map(lower),
            whitespaceAfterPrefix: true,
            body: isBearerCharacter,
            minimum: 16,
            marker: Array("Bearer [BEARER_TOKEN]".utf8)
        ),
    ]

    /// The first letters of the token rules' prefixes, as bits (a = 1): most trigger words ("token", "key") start
    /// none, so `mayReplace` goes straight to the assignment check.
    static let tokenRuleInitials: UInt32 = tokenRules.reduce(0) { bits, rule in
        rule.prefixes.reduce(bits) { $0 | 1 << UInt32($1[0] - 0x61) }
    }

    // MARK: - Private key blocks

    private static let beginMarker = lower("-----BEGIN ")
    private static let endMarker = lower("-----END ")
    private static let keyMarker = lower("PRIVATE KEY")
    private static let dashes = lower("-----")

    /// `-----BEGIN [A-Z ]*PRIVATE KEY-----`, through the first `-----END [A-Z ]*PRIVATE KEY-----` on the same line.
    private static func privateKeyBlock(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> Int? {
        guard let headerEnd = keyBoundary(bytes, marker: beginMarker, at: start) else { return nil }
        var index = headerEnd
        while index < bytes.count && newlineLength(bytes, at: index) == 0 {
            if let end = keyBoundary(bytes, marker: endMarker, at: index) { return end }
            index += 1
        }
        return headerEnd
    }

    /// `marker`, a run of letters and spaces that ends in `PRIVATE KEY`, and five dashes.
    private static func keyBoundary(_ bytes: UnsafeBufferPointer<UInt8>, marker: [UInt8], at start: Int) -> Int? {
        guard hasPrefix(bytes, marker, at: start) else { return nil }
        let runEnd = skip(bytes, from: start + marker.count) { isLetter($0) || $0 == space }
        guard runEnd - (start + marker.count) >= keyMarker.count,
            hasPrefix(bytes, keyMarker, at: runEnd - keyMarker.count),
            hasPrefix(bytes, dashes, at: runEnd)
        else { return nil }
        return runEnd + dashes.count
    }

    // MARK: - Assignments

    private static let secretNames = [
        "api_key", "apikey", "api-key", "token", "secret", "secret_key", "access_key", "password", "passwd",
    ]
    .map(lower)
    private static let redacted = Array("[REDACTED]".utf8)

    /// `NAME=value`, `NAME: value`, `"NAME": "value"` where NAME (a run of `[A-Za-z0-9_.-]`) ends in a secret name:
    /// the value is replaced, unless it already is a marker such as `[OPENAI_KEY]`.
    private static func assignment(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> Match? {
        // Only from the start of a name: a later character of it shares its end, where the secret name and the
        // separator must be, so it matches only if the start does.
        guard isNameCharacter(bytes[start]), start == 0 || !isNameCharacter(bytes[start - 1]) else { return nil }
        let nameEnd = skip(bytes, from: start, while: isNameCharacter)
        // The separator first: it is one or two bytes to look at, and most names ("tokens/s") have none.
        guard let valueStart = separatorEnd(bytes, from: nameEnd),
            secretNames.contains(where: { nameEnd - start >= $0.count && hasPrefix(bytes, $0, at: nameEnd - $0.count) })
        else { return nil }
        // `[^\s"',;]+`
        var valueEnd = valueStart
        while valueEnd < bytes.count, !isQuote(bytes[valueEnd]), bytes[valueEnd] != UInt8(ascii: ","),
            bytes[valueEnd] != UInt8(ascii: ";"), whitespaceLength(bytes, at: valueEnd) == 0
        {
            valueEnd += 1
        }
        guard valueEnd > valueStart else { return nil }
        let isMarker = bytes[valueStart] == UInt8(ascii: "[") && bytes[valueEnd - 1] == UInt8(ascii: "]")
        return Match(end: valueEnd, replacedFrom: isMarker ? nil : valueStart)
    }

    /// `["']?\s*[=:]\s*["']?` from `start`: where the value begins, or nil.
    @inline(__always)
    private static func separatorEnd(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var index = start
        if index < bytes.count && isQuote(bytes[index]) { index += 1 }
        index = skipWhitespace(bytes, from: index)
        guard index < bytes.count, bytes[index] == UInt8(ascii: "=") || bytes[index] == UInt8(ascii: ":") else {
            return nil
        }
        index = skipWhitespace(bytes, from: index + 1)
        if index < bytes.count && isQuote(bytes[index]) { index += 1 }
        return index
    }

    // MARK: - Scanning

    /// Where a pattern matched: up to `end`; from `replacedFrom` on, the marker replaces it (nil: it stays as it is).
    private struct Match {
        var end: Int
        var replacedFrom: Int?
    }

    /// One pass, left to right: where `match` finds a secret at an index, its marker replaces it and the scan goes
    /// on after it. nil when nothing was replaced (the caller keeps what it has, so a clean line is never copied).
    private static func replaceAll(
        in bytes: UnsafeBufferPointer<UInt8>,
        with marker: [UInt8],
        matching match: (UnsafeBufferPointer<UInt8>, Int) -> Match?
    ) -> [UInt8]? {
        var result: [UInt8] = []
        var replaced = false
        var copied = 0
        var index = 0
        while index < bytes.count {
            guard let found = match(bytes, index) else {
                index += 1
                continue
            }
            if let from = found.replacedFrom {
                if !replaced { result.reserveCapacity(bytes.count + marker.count) }
                replaced = true
                result += bytes[copied..<from]
                result += marker
                copied = found.end
            }
            index = found.end
        }
        guard replaced else { return nil }
        result += bytes[copied...]
        return result
    }

    @inline(__always)
    private static func skip(
        _ bytes: UnsafeBufferPointer<UInt8>,
        from start: Int,
        while accepts: (UInt8) -> Bool
    ) -> Int {
        var index = start
        while index < bytes.count && accepts(bytes[index]) { index += 1 }
        return index
    }

    @inline(__always)
    private static func skipWhitespace(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var index = start
        // Printable ASCII other than the space, the usual byte here, is no whitespace: no call for it.
        if index < bytes.count, bytes[index] &- 0x21 < 0x5E { return index }
        while case let length = whitespaceLength(bytes, at: index), length > 0 { index += length }
        return index
    }

    /// The length of the White_Space character at `index` (U+0009–000D, U+0020, U+0085, U+00A0, U+1680,
    /// U+2000–200A, U+2028, U+2029, U+202F, U+205F, U+3000), or 0.
    private static func whitespaceLength(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int {
        guard index < bytes.count else { return 0 }
        let byte = bytes[index]
        if byte == 0x20 || (0x09...0x0D).contains(byte) { return 1 }
        func continuation(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }
        switch byte {
        case 0xC2: return continuation(1) == 0x85 || continuation(1) == 0xA0 ? 2 : 0
        case 0xE1: return continuation(1) == 0x9A && continuation(2) == 0x80 ? 3 : 0
        case 0xE2:
            guard let second = continuation(1), let third = continuation(2) else { return 0 }
            if second == 0x80 && ((0x80...0x8A).contains(third) || third == 0xA8 || third == 0xA9 || third == 0xAF) {
                return 3
            }
            return second == 0x81 && third == 0x9F ? 3 : 0
        case 0xE3: return continuation(1) == 0x80 && continuation(2) == 0x80 ? 3 : 0
        default: return 0
        }
    }

    /// The length of the line break at `index` (what `.` does not match: U+000A–000D, U+0085, U+2028, U+2029), or 0.
    private static func newlineLength(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int {
        let byte = bytes[index]
        if (0x0A...0x0D).contains(byte) { return 1 }
        let length = whitespaceLength(bytes, at: index)
        guard length > 1 else { return 0 }
        let last = bytes[index + length - 1]
        return (byte == 0xC2 && last == 0x85)
            || (byte == 0xE2 && bytes[index + 1] == 0x80 && (last == 0xA8 || last == 0xA9)) ? length : 0
    }

    /// Whether `bytes` holds the lowercase ASCII `prefix` at `start`, letters in either case.
    private static func hasPrefix(_ bytes: UnsafeBufferPointer<UInt8>, _ prefix: [UInt8], at start: Int) -> Bool {
        guard start >= 0, bytes.count - start >= prefix.count else { return false }
        for offset in 0..<prefix.count
        where bytes[start + offset] | (isLetter(bytes[start + offset]) ? 0x20 : 0) != prefix[offset] {
            return false
        }
        return true
    }

    private static func lower(_ text: String) -> [UInt8] { Array(text.lowercased().utf8) }
    private static let underscore = UInt8(ascii: "_")
    private static let space = UInt8(ascii: " ")
    @inline(__always) private static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) &- 0x61 < 26 }
    @inline(__always) private static func isAlphanumeric(_ byte: UInt8) -> Bool { isLetter(byte) || byte &- 0x30 < 10 }
    /// `[A-Za-z0-9_-]`
    @inline(__always) private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == 0x5F || byte == 0x2D
    }
    /// `[A-Za-z0-9_.-]`
    @inline(__always) private static func isNameCharacter(_ byte: UInt8) -> Bool {
        isTokenCharacter(byte) || byte == 0x2E
    }
    /// `[A-Za-z0-9._~+/=-]`
    private static func isBearerCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "/"),
            UInt8(ascii: "="),
            UInt8(ascii: "-"):
            return true
        default: return isAlphanumeric(byte)
        }
    }
    @inline(__always) private static func isQuote(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'")
    }
}
