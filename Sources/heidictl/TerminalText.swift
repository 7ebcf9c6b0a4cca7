/// Makes text safe for an operator's terminal. What a stage wrote (its log lines, its failure excerpt, its
/// `STATUS=` line, event messages) reaches heidictl's human output; raw CR, backspace, BEL, ESC and the remains of
/// escape sequences there could rewrite or hide what the operator sees, or set the window title. Control
/// characters are shown in caret notation (`^M`, `^H`, `^G`, `^[`, `^?`); C1 controls and bidirectional
/// overrides as `<U+009B>`. Newline and tab stay. JSON output does not go through here: JSON escapes them.
enum TerminalText {
    static func neutralised(_ text: String) -> String {
        guard text.utf8.contains(where: needsCare) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x09, 0x0a:
                out.append(scalar)
            case 0x00..<0x20:
                out.append("^")
                out.append(Unicode.Scalar(UInt8(scalar.value + 0x40)))
            case 0x7f:
                out.append(contentsOf: "^?".unicodeScalars)
            case 0x80...0x9f, 0x061c, 0x200e, 0x200f, 0x202a...0x202e, 0x2066...0x2069:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out.append(
                    contentsOf: ("<U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex + ">")
                        .unicodeScalars
                )
            default:
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// The same for a line of bytes (invalid UTF-8 becomes U+FFFD).
    static func neutralised(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(where: needsCare) else { return bytes }
        return Array(neutralised(String(decoding: bytes, as: UTF8.self)).utf8)
    }

    /// Bytes that may start something to neutralise: controls other than tab and newline, DEL, and non-ASCII
    /// (which may be a C1 control or an override; checked per scalar).
    private static func needsCare(_ byte: UInt8) -> Bool {
        (byte < 0x20 && byte != 0x09 && byte != 0x0a) || byte >= 0x7f
    }
}
