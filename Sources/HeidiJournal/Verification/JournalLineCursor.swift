import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// The position of `JournalLineScanner` in a line; unchecked pointer reads guarded by explicit length checks.
struct LineCursor {
    let base: UnsafePointer<UInt8>
    let count: Int
    var i = 0

    init(base: UnsafePointer<UInt8>, count: Int) {
        self.base = base
        self.count = count
    }

    @inline(__always)
    func peek(_ offset: Int = 0) -> UInt8? { i + offset < count ? base[i + offset] : nil }

    @inline(__always)
    mutating func literal(_ text: StaticString) -> Bool {
        let n = text.utf8CodeUnitCount
        guard count - i >= n, memcmp(base + i, text.utf8Start, n) == 0 else { return false }
        i += n
        return true
    }

    // MARK: Defects

    /// `reason`, with what is wrong at the current byte when that says more.
    func defect(_ reason: String) -> LineDefect {
        guard let byte = peek() else { return LineDefect(reason: "\(reason): the line ends early") }
        let at = "at byte \(i + 1)"
        switch byte {
        case 0x00: return LineDefect(reason: "\(reason): NUL byte \(at)")
        case 0x0d where i == count - 1:
            return LineDefect(
                reason: "\(reason): carriage return before the newline (CRLF line ends; journal lines end in \\n only)"
            )
        case 0x20, 0x09, 0x0d: return LineDefect(reason: "\(reason): whitespace \(at) (journal lines are compact JSON)")
        case 0x80...: return LineDefect(reason: "\(reason): byte 0x\(String(byte, radix: 16)) outside a string \(at)")
        case 0x00..<0x20: return LineDefect(reason: "\(reason): control byte 0x\(String(byte, radix: 16)) \(at)")
        default: return LineDefect(reason: "\(reason): unexpected '\(Character(Unicode.Scalar(byte)))' \(at)")
        }
    }

    func valueDefect(_ reason: String) -> LineDefect {
        guard let byte = peek(), byte == 0 || byte == 0x0d || byte == 0x20 || byte == 0x09 || byte >= 0x80 else {
            return LineDefect(reason: reason)
        }
        return defect(reason)
    }

    /// The line does not start like a v2 event.
    func startDefect() -> LineDefect {
        var probe = self
        probe.i = 0
        if probe.literal(#"{"event_version":"#) {
            return probe.literal(#""2""#)
                ? probe.defect("expected \"seq\" after event_version (SPEC §7 key order)")
                : LineDefect(reason: "event_version is not \"2\" (not a heidi v2 journal line)")
        }
        if probe.peek() == UInt8(ascii: "{") {
            return LineDefect(reason: "not a heidi journal line: the first key is not \"event_version\"")
        }
        return probe.defect("not a heidi journal line (not a JSON object)")
    }

    /// Consumes `,"name":` or explains what stands where it belongs.
    mutating func key(_ text: StaticString, _ name: String) throws(LineDefect) {
        if literal(text) { return }
        if peek() == UInt8(ascii: ","), peek(1) == UInt8(ascii: "\"") {
            var probe = self
            probe.i += 1
            if let found = try? probe.string("") {
                let other = String(
                    decoding: UnsafeBufferPointer(start: base + found.lowerBound, count: found.count),
                    as: UTF8.self
                )
                throw LineDefect(reason: "key \"\(other)\" where \"\(name)\" belongs (SPEC §7 key order)")
            }
        }
        if peek() == UInt8(ascii: "}") { throw LineDefect(reason: "key \"\(name)\" is missing") }
        throw defect("expected key \"\(name)\" next (SPEC §7 key order)")
    }

    // MARK: Values

    /// A decimal without sign or leading zeros, at most Int64.max.
    mutating func unsigned() -> UInt64? {
        guard let first = peek(), (48...57).contains(first) else { return nil }
        if first == 48 {
            i += 1
            return peek().map { (48...57).contains($0) } == true ? nil : 0
        }
        var value: UInt64 = 0
        var digits = 0
        while let byte = peek(), (48...57).contains(byte) {
            digits += 1
            guard digits <= 19 else { return nil }
            value = value * 10 + UInt64(byte - 48)
            i += 1
        }
        return value <= UInt64(Int64.max) ? value : nil
    }

    /// `"YYYY-MM-DDTHH:MM:SS.ffffffZ"` (exactly what the writer emits), as microseconds since the epoch.
    mutating func timestamp() -> Int64? {
        guard count - i >= 29, base[i] == 0x22, base[i + 28] == 0x22 else { return nil }
        let p = base + i + 1
        func number(_ from: Int, _ length: Int) -> Int64? {
            var value: Int64 = 0
            for k in from..<(from + length) {
                guard (48...57).contains(p[k]) else { return nil }
                value = value * 10 + Int64(p[k] - 48)
            }
            return value
        }
        guard p[4] == 0x2d, p[7] == 0x2d, p[10] == 0x54, p[13] == 0x3a, p[16] == 0x3a, p[19] == 0x2e, p[26] == 0x5a,
            let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
            let minute = number(14, 2), let second = number(17, 2), let micros = number(20, 6),
            (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year), hour < 24, minute < 60,
            second < 60
        else { return nil }
        i += 29
        let days = Self.daysFromCivil(year: year, month: month, day: day)
        return ((days * 24 + hour) * 60 + minute) * 60_000_000 + second * 1_000_000 + micros
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    mutating func hex64() -> Bool {
        guard count - i >= 64 else { return false }
        for k in i..<(i + 64) {
            let byte = base[k]
            guard (48...57).contains(byte) || (97...102).contains(byte) else { return false }
        }
        i += 64
        return true
    }

    /// A JSON string; returns the range of its raw contents. `reason` names the field when it is not a string.
    mutating func string(_ reason: @autoclosure () -> String) throws(LineDefect) -> Range<Int> {
        guard peek() == 0x22 else { throw valueDefect(reason()) }
        i += 1
        let start = i
        while i < count {
            let byte = base[i]
            if byte == 0x22 {
                i += 1
                return start..<(i - 1)
            }
            if byte == 0x5c {
                try escape()
            } else if byte < 0x20 {
                throw defect(byte == 0 ? "NUL byte in a string" : "unescaped control character in a string")
            } else if byte < 0x80 {
                i += 1
            } else {
                try utf8()
            }
        }
        throw LineDefect(reason: "unterminated string")
    }

    private mutating func escape() throws(LineDefect) {
        guard let kind = peek(1) else { throw LineDefect(reason: "unterminated escape") }
        switch kind {
        case 0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74: i += 2
        case 0x75:
            i += 2
            let unit = try hex4()
            if (0xDC00...0xDFFF).contains(unit) { throw defect("unpaired surrogate escape") }
            if (0xD800...0xDBFF).contains(unit) {
                guard peek() == 0x5c, peek(1) == 0x75 else { throw defect("unpaired surrogate escape") }
                i += 2
                guard (0xDC00...0xDFFF).contains(try hex4()) else { throw defect("invalid low surrogate escape") }
            }
        default: throw defect("invalid escape")
        }
    }

    private mutating func hex4() throws(LineDefect) -> UInt32 {
        guard count - i >= 4 else { throw LineDefect(reason: "short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = base[i]
            let digit: UInt8
            switch byte {
            case 48...57: digit = byte - 48
            case 97...102: digit = byte - 87
            case 65...70: digit = byte - 55
            default: throw defect("invalid hex digit in \\u escape")
            }
            value = value << 4 | UInt32(digit)
            i += 1
        }
        return value
    }

    /// One multi-byte UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
    private mutating func utf8() throws(LineDefect) {
        let lead = base[i]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            high = 0x9F
        case 0xF0:
            length = 4
            low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            high = 0x8F
        default: throw defect("invalid UTF-8 in a string")
        }
        guard count - i >= length else { throw defect("invalid UTF-8 in a string (sequence cut off)") }
        for k in 1..<length {
            let byte = base[i + k]
            let range: ClosedRange<UInt8> = k == 1 ? low...high : 0x80...0xBF
            guard range.contains(byte) else {
                i += k
                throw defect("invalid UTF-8 in a string")
            }
        }
        i += length
    }

    /// A JSON number (RFC 8259 grammar).
    mutating func number() -> Bool {
        if peek() == 0x2d { i += 1 }
        guard let first = peek(), (48...57).contains(first) else { return false }
        i += 1
        if first != 48 { while let byte = peek(), (48...57).contains(byte) { i += 1 } }
        if peek() == 0x2e {
            i += 1
            guard digits() else { return false }
        }
        if peek() == 0x65 || peek() == 0x45 {
            i += 1
            if peek() == 0x2b || peek() == 0x2d { i += 1 }
            guard digits() else { return false }
        }
        return true
    }

    private mutating func digits() -> Bool {
        let start = i
        while let byte = peek(), (48...57).contains(byte) { i += 1 }
        return i > start
    }

    /// `{"key":number,…}` with keys strictly increasing by their UTF-8 bytes.
    mutating func numberMap(_ field: String) throws(LineDefect) {
        guard peek() == 0x7b else { throw valueDefect("\(field) is not an object") }
        i += 1
        if peek() == 0x7d {
            i += 1
            return
        }
        var previous: Range<Int>?
        while true {
            let key = try string("\(field) has a key that is not a string")
            if let previous, !precedes(previous, key) { throw LineDefect(reason: "\(field) keys are not sorted") }
            previous = key
            guard peek() == 0x3a else { throw defect("\(field): expected ':'") }
            i += 1
            guard number() else { throw valueDefect("\(field) holds a value that is not a number") }
            if peek() == 0x2c {
                i += 1
                continue
            }
            guard peek() == 0x7d else { throw defect("\(field): expected ',' or '}'") }
            i += 1
            return
        }
    }

    /// Whether key `a` sorts strictly before key `b` by their decoded UTF-8 bytes (raw bytes when unescaped).
    private func precedes(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
        let first = UnsafeBufferPointer(start: base + a.lowerBound, count: a.count)
        let second = UnsafeBufferPointer(start: base + b.lowerBound, count: b.count)
        if !first.contains(0x5c) && !second.contains(0x5c) { return first.lexicographicallyPrecedes(second) }
        return keyBytes(a).lexicographicallyPrecedes(keyBytes(b))
    }

    /// The decoded bytes of a key (the raw bytes unless it has escapes).
    private func keyBytes(_ range: Range<Int>) -> [UInt8] {
        let raw = Array(UnsafeBufferPointer(start: base + range.lowerBound, count: range.count))
        guard raw.contains(0x5c) else { return raw }
        let quoted = [0x22] + raw + [0x22]
        return (try? StrictJSONParser.parse(quoted))?.stringValue.map { Array($0.utf8) } ?? raw
    }

    /// `["…",…]`.
    mutating func stringArray(_ field: String) throws(LineDefect) {
        guard peek() == 0x5b else { throw valueDefect("\(field) is not an array of strings") }
        i += 1
        if peek() == 0x5d {
            i += 1
            return
        }
        while true {
            _ = try string("\(field) is not an array of strings")
            if peek() == 0x2c {
                i += 1
                continue
            }
            guard peek() == 0x5d else { throw defect("\(field): expected ',' or ']'") }
            i += 1
            return
        }
    }
}
