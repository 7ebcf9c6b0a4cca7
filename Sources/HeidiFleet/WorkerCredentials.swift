import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// Who may ship to the dashboard: per-worker tokens from `web.fleet.workers_file` (lines `NAME TOKEN`, `#` comments),
/// re-read when the file changes (removing a line revokes the token at the next request), and the original engine's
/// shared secret (`TELEMETRY_PASS`) as HTTP Basic `NAME:SECRET`.
public struct WorkerCredentials: Sendable {
    public let file: String?
    public let sharedSecret: String?
    private var tokens: [(name: String, token: String)] = []
    private var loadedStamp: (Int, Int)?

    /// Why the workers file was refused; names the file and line.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(file: String?, sharedSecret: String?) throws(Problem) {
        self.file = file
        self.sharedSecret = sharedSecret
        try reloadIfChanged()
    }

    /// Parses the workers file's text.
    public static func parse(_ text: String, file: String) throws(Problem) -> [(name: String, token: String)] {
        var result: [(name: String, token: String)] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count == 2 else { throw Problem(description: "\(file):\(number + 1): expected NAME TOKEN") }
            let name = String(parts[0])
            guard FleetWire.isValidName(name) else {
                throw Problem(description: "\(file):\(number + 1): invalid worker name \(name)")
            }
            guard parts[1].utf8.count >= 16 else {
                throw Problem(description: "\(file):\(number + 1): the token for \(name) is under 16 characters")
            }
            result.append((name, String(parts[1])))
        }
        return result
    }

    /// Re-reads the file when its modification time or size changed; a file that became invalid keeps the last
    /// good tokens (and says so on stderr) rather than locking every worker out.
    public mutating func reloadIfChanged() throws(Problem) {
        guard let file else { return }
        var st = stat()
        guard stat(file, &st) == 0 else {
            throw Problem(description: "\(file): \(errnoDescription(errno)) (web.fleet.workers_file)")
        }
        let stamp = (Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec), Int(st.st_size))
        if let loadedStamp, loadedStamp == stamp { return }
        let text: String
        do { text = String(decoding: try FileSystem.read(file), as: UTF8.self) } catch {
            throw Problem(description: "\(file): \(error) (web.fleet.workers_file)")
        }
        tokens = try Self.parse(text, file: file)
        loadedStamp = stamp
    }

    /// The worker an `Authorization` header names, or nil (wrong, revoked or missing credentials).
    public func worker(authorization: String?) -> String? {
        guard let authorization else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let value = String(parts[1]).trimmingCharacters(in: " ")
        switch parts[0].lowercased() {
        case "bearer":
            var found: String?
            for entry in tokens where FleetConstantTime.equals(entry.token, value) { found = entry.name }
            return found
        case "basic":
            guard let sharedSecret, let decoded = FleetBase64.decode(value), let colon = decoded.firstIndex(of: 0x3a)
            else { return nil }
            let name = String(decoding: decoded[..<colon], as: UTF8.self)
            let password = String(decoding: decoded[(colon + 1)...], as: UTF8.self)
            guard FleetWire.isValidName(name), FleetConstantTime.equals(password, sharedSecret) else { return nil }
            return name
        default:
            return nil
        }
    }
}

/// Comparison whose time does not depend on where two secrets differ.
enum FleetConstantTime {
    static func equals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for index in 0..<max(x.count, y.count) {
            difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
        }
        return difference == 0
    }
}

/// Standard base64 (RFC 4648).
public enum FleetBase64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var bits: UInt32 = 0
            for (offset, byte) in chunk.enumerated() { bits |= UInt32(byte) << (16 - 8 * UInt32(offset)) }
            for position in 0..<4 {
                out.append(
                    position <= chunk.count
                        ? alphabet[Int((bits >> (18 - 6 * UInt32(position))) & 63)] : UInt8(ascii: "=")
                )
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt32] = []
        for byte in text.utf8 where byte != UInt8(ascii: "=") {
            guard let value = alphabet.firstIndex(of: byte) else { return nil }
            values.append(UInt32(value))
        }
        var out: [UInt8] = []
        var index = 0
        while index + 1 < values.count {
            let chunk = values[index..<min(index + 4, values.count)]
            var bits: UInt32 = 0
            for (offset, value) in chunk.enumerated() { bits |= value << (18 - 6 * UInt32(offset)) }
            out.append(UInt8(truncatingIfNeeded: bits >> 16))
            if chunk.count > 2 { out.append(UInt8(truncatingIfNeeded: bits >> 8)) }
            if chunk.count > 3 { out.append(UInt8(truncatingIfNeeded: bits)) }
            index += 4
        }
        return out
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var view = Substring(self)
        while let first = view.first, set.contains(first) { view = view.dropFirst() }
        while let last = view.last, set.contains(last) { view = view.dropLast() }
        return String(view)
    }
}
