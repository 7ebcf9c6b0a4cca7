/// One `name: value` field line of an HTTP head, read as bytes: the name in ASCII lower case, the value without the
/// blanks and tabs around it. Shared by heidictl (the fields of heidid's answers) and heidid (the status requests it
/// answers before NIO's codec). Bytes, not String: String's Unicode-aware lowercasing, splitting and trimming cost a
/// short-lived `heidictl status` more page faults and conformance lookups than its whole parse.
public struct HTTPFieldLine: Sendable, Equatable {
    public var name: String
    public var value: String

    /// Reads `line` (without its line end); nil when it has no colon.
    public init?(_ line: UnsafeRawBufferPointer) {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let name = line[..<colon].map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }
        var value = line[(colon + 1)...]
        while let first = value.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
            value = value.dropFirst()
        }
        while let last = value.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") {
            value = value.dropLast()
        }
        self.name = String(decoding: name, as: UTF8.self)
        self.value = String(decoding: value, as: UTF8.self)
    }
}
