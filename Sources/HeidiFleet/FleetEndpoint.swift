import HeidiCore

/// Where a worker dials: the dashboard's address and how its certificate is trusted.
public struct FleetEndpoint: Sendable, Equatable {
    /// How the dashboard's certificate is checked.
    public enum Trust: Sendable, Equatable {
        /// The SHA-256 of the dashboard certificate's DER bytes, lowercase hex without separators.
        case pinned(String)
        /// A CA bundle (PEM) that signed the dashboard's certificate.
        case authority(file: String)
        /// The system's trust store.
        case system
        /// Plain HTTP (a dashboard on loopback only, for tests and a worker on the dashboard's own host).
        case plaintext
    }

    public var host: String
    public var port: Int
    public var trust: Trust

    public init(host: String, port: Int, trust: Trust) {
        self.host = host
        self.port = port
        self.trust = trust
    }

    /// Parses `DASHBOARD_HOST` / `web.dashboard.url`: `https://HOST:PORT`, `http://HOST:PORT` (loopback only) or
    /// `HOST:PORT` (https). Port 7779 when omitted; a path is ignored.
    public static func parse(_ text: String, trust: Trust, key: String) throws(FleetConfigError) -> FleetEndpoint {
        var rest = Substring(text)
        var secure = true
        if rest.hasPrefix("https://") {
            rest = rest.dropFirst(8)
        } else if rest.hasPrefix("http://") {
            rest = rest.dropFirst(7)
            secure = false
        }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        var host = String(rest)
        var port = 7779
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else {
                throw FleetConfigError(key: key, message: "unclosed [ in \(text)")
            }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()), (1...65535).contains(value) else {
                    throw FleetConfigError(key: key, message: "bad port in \(text)")
                }
                port = value
            }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let value = Int(host[host.index(after: colon)...]), (1...65535).contains(value) else {
                throw FleetConfigError(key: key, message: "bad port in \(text)")
            }
            port = value
            host = String(host[..<colon])
        }
        guard !host.isEmpty, !host.contains(" ") else {
            throw FleetConfigError(key: key, message: "no host in \(text)")
        }
        if !secure {
            guard host == "localhost" || host == "::1" || host.hasPrefix("127.") else {
                throw FleetConfigError(
                    key: key,
                    message: "\(text): plain http is for a dashboard on loopback only; use https"
                )
            }
            return FleetEndpoint(host: host, port: port, trust: .plaintext)
        }
        return FleetEndpoint(host: host, port: port, trust: trust)
    }

    /// A pin as written (`sha256:AB:CD:…`, `AB:CD:…` as `openssl x509 -fingerprint -sha256` prints it, or plain hex).
    public static func pin(_ text: String, key: String) throws(FleetConfigError) -> String {
        var value = text.lowercased()
        if value.hasPrefix("sha256:") { value = String(value.dropFirst(7)) }
        if value.hasPrefix("sha256 fingerprint=") { value = String(value.dropFirst(19)) }
        value = value.filter { $0 != ":" }
        guard value.count == 64, Hex.isLowercaseHex(Substring(value), length: 64) else {
            throw FleetConfigError(
                key: key,
                message: "expected a SHA-256 fingerprint (64 hex digits, colons allowed), got \(text)"
            )
        }
        return value
    }
}

/// A fleet setting that is wrong; names the key.
public struct FleetConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    public var key: String
    public var message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "\(key): \(message)" }
}
