/// A request's target (`/api/v1/logs?stage=train&round=2`) split into its path and its query parameters, with
/// `%XX` and `+` decoded. heidid's control router and heidi-web parse targets the same way.
public struct RequestTarget: Sendable, Equatable {
    public var path: String
    /// Each parameter's last value; a parameter without `=` has the empty string.
    public var query: [String: String]

    public init(_ uri: String) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = String(parts.first ?? "")
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query[Self.decode(kv[0])] = kv.count > 1 ? Self.decode(kv[1]) : ""
            }
        }
        self.query = query
    }

    /// `%XX` and `+` decoding of a query component; a `%` not followed by two hex digits stays as it is.
    public static func decode<S: StringProtocol>(_ text: S) -> String {
        guard text.contains("%") || text.contains("+") else { return String(text) }
        let input = Array(text.utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "+") {
                bytes.append(0x20)
            } else if byte == UInt8(ascii: "%"), index + 2 < input.count, let high = hexValue(input[index + 1]),
                let low = hexValue(input[index + 2])
            {
                bytes.append(high << 4 | low)
                index += 2
            } else {
                bytes.append(byte)
            }
            index += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
