import HeidiFleet

/// heidi-web's settings (SPEC §12), from flags, the config's `web:` section, the environment and systemd credentials.
public struct WebSettings: Sendable, Equatable {
    /// A worker's link to the fleet dashboard (`web.dashboard:` or `DASHBOARD_HOST`; docs/fleet.md).
    public var dashboard: ShipperSettings?
    /// The dashboard's side of the fleet (`web.fleet:`).
    public var fleet: FleetStore.Settings?
    /// Where it listens; `127.0.0.1:7779` unless configured.
    public var listen: ListenAddress
    /// heidid's control socket.
    public var socketPath: String
    /// The operator password (role operator; Basic user `operator`, alias `admin`).
    public var operatorPassword: String
    /// A password for the viewer role (Basic user `viewer`), if configured.
    public var viewerPassword: String?
    /// Bearer tokens for programs, by role.
    public var tokens: [BearerToken]
    /// PEM certificate chain and private key: both or neither.
    public var tls: TLSFiles?
    /// Host header values accepted besides the listen address and loopback names (DNS rebinding defence).
    public var extraAllowedHosts: [String]

    public init(
        listen: ListenAddress = .default,
        socketPath: String,
        operatorPassword: String,
        viewerPassword: String? = nil,
        tokens: [BearerToken] = [],
        tls: TLSFiles? = nil,
        extraAllowedHosts: [String] = []
    ) {
        self.listen = listen
        self.socketPath = socketPath
        self.operatorPassword = operatorPassword
        self.viewerPassword = viewerPassword
        self.tokens = tokens
        self.tls = tls
        self.extraAllowedHosts = extraAllowedHosts
    }

    /// The Host header values this server answers to: its listen address, loopback names when it listens on
    /// loopback, and the configured extra names; each with and without the port.
    public var allowedHosts: Set<String> {
        var names = Set(extraAllowedHosts.map { $0.lowercased() })
        names.insert(listen.host.lowercased())
        if listen.isLoopback || listen.isWildcard { names.formUnion(["localhost", "127.0.0.1", "[::1]", "::1"]) }
        var result = Set<String>()
        for name in names {
            let bracketed = name.contains(":") && !name.hasPrefix("[") ? "[\(name)]" : name
            result.insert(bracketed)
            result.insert("\(bracketed):\(listen.port)")
        }
        return result
    }

    /// The scheme pages are served with.
    public var scheme: String { tls == nil ? "http" : "https" }
}

/// A bearer token for programs, with the role it grants.
public struct BearerToken: Sendable, Equatable {
    public var token: String
    public var role: Role

    public init(token: String, role: Role) {
        self.token = token
        self.role = role
    }
}

/// The two roles: viewers read, operators also act.
public enum Role: String, Sendable, Equatable, Comparable, CaseIterable {
    case viewer, `operator`

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs == .viewer && rhs == .operator }
}

/// A PEM certificate chain and its private key.
public struct TLSFiles: Sendable, Equatable {
    public var certificate: String
    public var key: String

    public init(certificate: String, key: String) {
        self.certificate = certificate
        self.key = key
    }
}

/// `HOST:PORT` (`[v6]:PORT` for IPv6).
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public static let `default` = ListenAddress(host: "127.0.0.1", port: 7779)

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, `[V6]:PORT` or `:PORT` (all addresses); nil when malformed.
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }
        guard !host.contains(" ") else { return nil }
        self.init(host: host, port: port)
    }

    /// 127.0.0.0/8, ::1 and `localhost`.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// 0.0.0.0 or :: (every interface).
    public var isWildcard: Bool { host == "0.0.0.0" || host == "::" }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
