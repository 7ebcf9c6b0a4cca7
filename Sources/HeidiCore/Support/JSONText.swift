/// Hand-written JSON emission for journal lines and other byte-exact documents.
///
/// Written by hand because the journal format fixes key order and escaping (RFC 8259, every control character
/// escaped, `/` left alone) and JSONEncoder guarantees neither.
public enum JSONText {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `text` as a JSON string literal (with quotes).
    public static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most text needs no escape at all: copy it in one go.
        let copied: Bool? = text.utf8.withContiguousStorageIfAvailable { bytes in
            guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5c || $0 == 0x7f }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if copied == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5c, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5c, 0x5c])
            case 0x0a: out.append(contentsOf: [0x5c, UInt8(ascii: "n")])
            case 0x0d: out.append(contentsOf: [0x5c, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5c, UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [0x5c, UInt8(ascii: "b")])
            case 0x0c: out.append(contentsOf: [0x5c, UInt8(ascii: "f")])
            case 0x00..<0x20, 0x7f:
                out.append(contentsOf: [0x5c, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0f)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A JSON string literal for `text`.
    public static func quoted(_ text: String) -> String {
        var out: [UInt8] = []
        appendString(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends a finite number: integers without a fraction, others in Swift's shortest round-trip form.
    public static func appendNumber(_ value: Double, to out: inout [UInt8]) {
        out.append(contentsOf: number(value).utf8)
    }

    /// A finite number as JSON writes it: whole numbers without a fraction (`12`, not `12.0`).
    public static func number(_ value: Double) -> String {
        precondition(value.isFinite, "JSON numbers must be finite")
        return value == value.rounded() && abs(value) < 9_007_199_254_740_992 ? String(Int64(value)) : value.description
    }

    /// Appends `{"k":v,...}` with keys sorted by their UTF-8 bytes; non-finite values are skipped.
    public static func appendNumberMap(_ map: [String: Double], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        for (key, value) in map.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            guard value.isFinite else { continue }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendNumber(value, to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// Appends `["a","b"]`.
    public static func appendStringArray(_ items: [String], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (index, item) in items.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendString(item, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// Appends `"YYYY-MM-DDTHH:MM:SS.ffffffZ"` for `micros` since the epoch: exactly `Timestamp.description`, without
    /// its string building (journal lines are written at hundreds of thousands per second).
    public static func appendTimestamp(_ micros: Int64, to out: inout [UInt8]) {
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = micros - seconds * 1_000_000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let time = seconds - days * 86_400
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func digits(_ value: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                out.append(UInt8(48 + (rest / divisor) % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        out.append(0x22)
        digits(year, 4)
        out.append(0x2d)
        digits(month, 2)
        out.append(0x2d)
        digits(day, 2)
        out.append(0x54)
        digits(time / 3600, 2)
        out.append(0x3a)
        digits(time / 60 % 60, 2)
        out.append(0x3a)
        digits(time % 60, 2)
        out.append(0x2e)
        digits(fraction, 6)
        out.append(0x5a)
        out.append(0x22)
    }
}
