import HeidiAPI
import HeidiCore
import HeidiYAML

/// heidi-web's command-line flags (SPEC §12); nil means "not given".
public struct WebOptions: Sendable, Equatable {
    public var configPath: String?
    public var socket: String?
    public var listen: String?
    public var passwordFile: String?
    public var viewerPasswordFile: String?
    public var tlsCert: String?
    public var tlsKey: String?

    public init(
        configPath: String? = nil,
        socket: String? = nil,
        listen: String? = nil,
        passwordFile: String? = nil,
        viewerPasswordFile: String? = nil,
        tlsCert: String? = nil,
        tlsKey: String? = nil
    ) {
        self.configPath = configPath
        self.socket = socket
        self.listen = listen
        self.passwordFile = passwordFile
        self.viewerPasswordFile = viewerPasswordFile
        self.tlsCert = tlsCert
        self.tlsKey = tlsKey
    }
}

/// The `web:` section of the YAML config, as written.
struct WebSection: Equatable {
    var listen: String?
    var passwordFile: String?
    var viewerPasswordFile: String?
    var tokenFile: String?
    var viewerTokenFile: String?
    var tlsCert: String?
    var tlsKey: String?
    var allowedHosts: [String] = []
    var fleet = FleetSection()

    static let keys = [
        "listen", "password_file", "viewer_password_file", "token_file", "viewer_token_file", "tls_cert",
        "tls_key", "allowed_hosts", "dashboard", "fleet",
    ]

    /// Reads `web:` from the config text; other sections are heidid's and are not looked at. Relative paths are
    /// resolved against the config file's directory.
    static func read(_ text: String, path: String) throws(WebSettingsError) -> WebSection {
        let fields = YAMLFields<WebSettingsError> { line, key, message in
            .invalid(key: "\(path)\(line.map { ":\($0)" } ?? "") \(key)", message: message)
        }
        var section = WebSection()
        guard let root = try fields.document(text) else { return section }
        guard let web = try fields.mapping(root, "").first(where: { $0.name == "web" }) else { return section }
        let base = FileSystem.resolve(FileSystem.dirname(path), against: FileSystem.currentDirectory())
        func file(_ node: YAMLNode, _ key: String) throws(WebSettingsError) -> String {
            FileSystem.resolve(try fields.string(node, key), against: base)
        }
        for (key, value, name) in try fields.mapping(web.value, "web") {
            switch name {
            case "listen": section.listen = try fields.string(value, key)
            case "password_file": section.passwordFile = try file(value, key)
            case "viewer_password_file": section.viewerPasswordFile = try file(value, key)
            case "token_file": section.tokenFile = try file(value, key)
            case "viewer_token_file": section.viewerTokenFile = try file(value, key)
            case "tls_cert": section.tlsCert = try file(value, key)
            case "tls_key": section.tlsKey = try file(value, key)
            case "allowed_hosts": section.allowedHosts = try fields.strings(value, key)
            case "dashboard": try section.fleet.readDashboard(value, fields, file: file)
            case "fleet": try section.fleet.readFleet(value, fields, file: file)
            default: throw fields.fail(value, key, "unknown key (known: \(keys.joined(separator: ", ")))")
            }
        }
        return section
    }
}

/// Combines flags, the config's `web:` section, systemd credentials and the environment into `WebSettings`, and
/// applies the safety rules: TLS off loopback, a strong operator password.
public enum WebSettingsLoader {
    /// The systemd credential names (`LoadCredential=heidi-web-password:/etc/heidi/web-password`).
    public static let passwordCredential = "heidi-web-password"
    public static let viewerPasswordCredential = "heidi-web-viewer-password"

    public static func load(
        _ options: WebOptions,
        environment: [String: String]
    ) throws(WebSettingsError) -> WebSettings {
        let configPath = ConfigLoader.configPath(explicit: options.configPath, environment: environment)
        var section = WebSection()
        if let configPath {
            section = try WebSection.read(try readText(configPath, key: "--config"), path: configPath)
        }
        var listen = ListenAddress.default
        if let text = options.listen ?? section.listen {
            guard let parsed = ListenAddress(parsing: text) else {
                throw .invalid(
                    key: options.listen != nil ? "--listen" : "web.listen",
                    message: "expected HOST:PORT, got \"\(text)\""
                )
            }
            listen = parsed
        }
        let cert = options.tlsCert ?? section.tlsCert
        let key = options.tlsKey ?? section.tlsKey
        var tls: TLSFiles?
        switch (cert, key) {
        case (let cert?, let key?): tls = TLSFiles(certificate: cert, key: key)
        case (nil, nil): tls = nil
        case (nil, _): throw .tlsIncomplete(missing: "tls_cert (--tls-cert or web.tls_cert)")
        case (_, nil): throw .tlsIncomplete(missing: "tls_key (--tls-key or web.tls_key)")
        }
        if tls == nil && !listen.isLoopback {
            throw .tlsRequired(address: listen.description, missing: ["tls_cert", "tls_key"])
        }
        let password = try operatorPassword(options, section, environment)
        var viewer: String?
        if let file = options.viewerPasswordFile ?? section.viewerPasswordFile {
            viewer = try secret(
                file,
                key: options.viewerPasswordFile != nil ? "--viewer-password-file" : "web.viewer_password_file"
            )
        } else if let directory = environment["CREDENTIALS_DIRECTORY"],
            FileSystem.exists(directory + "/" + viewerPasswordCredential)
        {
            viewer = try secret(
                directory + "/" + viewerPasswordCredential,
                key: "credential \(viewerPasswordCredential)"
            )
        }
        if let viewer, let problem = PasswordPolicy.problem(with: viewer) {
            throw .weakPassword(source: "the viewer password", reason: problem)
        }
        var tokens: [BearerToken] = []
        for (file, role, name) in [
            (section.tokenFile, Role.operator, "web.token_file"),
            (section.viewerTokenFile, .viewer, "web.viewer_token_file"),
        ] {
            guard let file else { continue }
            let token = try secret(file, key: name)
            if let problem = PasswordPolicy.problem(with: token) { throw .weakPassword(source: name, reason: problem) }
            tokens.append(BearerToken(token: token, role: role))
        }
        let socket = SocketLocator.resolve(explicit: options.socket, configPath: configPath, environment: environment)
        var settings = WebSettings(
            listen: listen,
            socketPath: socket,
            operatorPassword: password,
            viewerPassword: viewer,
            tokens: tokens,
            tls: tls,
            extraAllowedHosts: section.allowedHosts
        )
        settings.dashboard = try FleetSettingsLoader.dashboard(
            section.fleet,
            configPath: configPath,
            environment: environment
        )
        settings.fleet = try FleetSettingsLoader.fleet(section.fleet, configPath: configPath, environment: environment)
        return settings
    }

    private static func operatorPassword(
        _ options: WebOptions,
        _ section: WebSection,
        _ environment: [String: String]
    )
        throws(WebSettingsError) -> String
    {
        let found: (String, String)
        if let file = options.passwordFile {
            found = (try secret(file, key: "--password-file"), "--password-file \(file)")
        } else if let file = section.passwordFile {
            found = (try secret(file, key: "web.password_file"), "web.password_file \(file)")
        } else if let directory = environment["CREDENTIALS_DIRECTORY"],
            FileSystem.exists(directory + "/" + passwordCredential)
        {
            found = (
                try secret(directory + "/" + passwordCredential, key: "credential"),
                "systemd credential \(passwordCredential)"
            )
        } else if let value = environment["TELEMETRY_PASS"], !value.isEmpty {
            found = (value, "TELEMETRY_PASS")
        } else {
            throw .noPassword
        }
        if let problem = PasswordPolicy.problem(with: found.0) { throw .weakPassword(source: found.1, reason: problem) }
        return found.0
    }

    /// A secret file's content without its trailing line break.
    static func secret(_ path: String, key: String) throws(WebSettingsError) -> String {
        var text = try readText(path, key: key)
        while let last = text.last, last == "\n" || last == "\r" { text.removeLast() }
        return text
    }

    private static func readText(_ path: String, key: String) throws(WebSettingsError) -> String {
        do { return String(decoding: try FileSystem.read(path), as: UTF8.self) } catch {
            throw .unreadable(path: path, key: key, reason: errnoDescription(error.errno))
        }
    }
}
