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
            for entry in tokens where ConstantTime.equals(entry.token, value) { found = entry.name }
            return found
        case "basic":
            guard let sharedSecret, let decoded = Base64.decode(value), let colon = decoded.firstIndex(of: 0x3a)
            else { return nil }
            let name = String(decoding: decoded[..<colon], as: UTF8.self)
            let password = String(decoding: decoded[(colon + 1)...], as: UTF8.self)
            guard FleetWire.isValidName(name), ConstantTime.equals(password, sharedSecret) else { return nil }
            return name
        default:
            return nil
        }
    }
}
