import HeidiCore
import HeidiTestSupport
import Testing

@testable import HeidiWeb

/// The configuration rules of SPEC §12: safe defaults, TLS off loopback, no default or weak password.
@Suite("heidi-web settings")
struct WebSettingsTests {
    static let strong = "correct-horse-battery-staple"

    let directory = Scratch.directory("web-settings")

    func write(_ text: String, _ name: String) throws -> String {
        let path = directory + "/" + name
        try FileSystem.writeAtomically(path, Array(text.utf8))
        return path
    }

    @Test("defaults: 127.0.0.1:7779, password from TELEMETRY_PASS")
    func defaults() throws {
        let settings = try WebSettingsLoader.load(
            WebOptions(socket: "/run/x.sock"),
            environment: ["TELEMETRY_PASS": Self.strong]
        )
        #expect(settings.listen == ListenAddress(host: "127.0.0.1", port: 7779))
        #expect(settings.operatorPassword == Self.strong)
        #expect(settings.tls == nil)
        #expect(settings.socketPath == "/run/x.sock")
    }

    @Test("no password at all: refused, naming the sources")
    func noPassword() {
        #expect(throws: WebSettingsError.noPassword) {
            try WebSettingsLoader.load(WebOptions(socket: "/s"), environment: [:])
        }
        #expect(WebSettingsError.noPassword.description.contains("TELEMETRY_PASS"))
    }

    @Test(
        "'admin' and passwords under 16 characters are refused",
        arguments: ["admin", "ADMIN", "fifteen-chars!!", ""]
    )
    func weakPasswords(password: String) {
        #expect(throws: WebSettingsError.self) {
            try WebSettingsLoader.load(
                WebOptions(socket: "/s"),
                environment: ["TELEMETRY_PASS": password.isEmpty ? "short" : password]
            )
        }
    }

    @Test("a 16-character password is accepted")
    func sixteen() throws {
        _ = try WebSettingsLoader.load(WebOptions(socket: "/s"), environment: ["TELEMETRY_PASS": "sixteen-chars-ok"])
    }

    @Test("password file wins over the credential and TELEMETRY_PASS; its trailing newline is not part of it")
    func passwordSources() throws {
        let file = try write(Self.strong + "\n", "pw")
        let credentials = Scratch.directory("web-credentials")
        try FileSystem.writeAtomically(credentials + "/heidi-web-password", Array("from-the-systemd-credential".utf8))
        let fromFile = try WebSettingsLoader.load(
            WebOptions(socket: "/s", passwordFile: file),
            environment: ["CREDENTIALS_DIRECTORY": credentials, "TELEMETRY_PASS": "x"]
        )
        #expect(fromFile.operatorPassword == Self.strong)
        let fromCredential = try WebSettingsLoader.load(
            WebOptions(socket: "/s"),
            environment: ["CREDENTIALS_DIRECTORY": credentials, "TELEMETRY_PASS": "x"]
        )
        #expect(fromCredential.operatorPassword == "from-the-systemd-credential")
    }

    @Test("off loopback without TLS: refused, naming tls_cert and tls_key")
    func tlsRequired() throws {
        let error = #expect(throws: WebSettingsError.self) {
            try WebSettingsLoader.load(
                WebOptions(socket: "/s", listen: "0.0.0.0:7779"),
                environment: ["TELEMETRY_PASS": Self.strong]
            )
        }
        #expect(error == .tlsRequired(address: "0.0.0.0:7779", missing: ["tls_cert", "tls_key"]))
        #expect(error?.description.contains("tls_cert") == true)
    }

    @Test("a certificate without its key: refused, naming tls_key")
    func tlsIncomplete() {
        let error = #expect(throws: WebSettingsError.self) {
            try WebSettingsLoader.load(
                WebOptions(socket: "/s", listen: "10.0.0.1:443", tlsCert: "/c.pem"),
                environment: ["TELEMETRY_PASS": Self.strong]
            )
        }
        #expect(error?.description.contains("tls_key") == true)
    }

    @Test("off loopback with TLS files: accepted")
    func tlsGiven() throws {
        let settings = try WebSettingsLoader.load(
            WebOptions(socket: "/s", listen: "[::]:8443", tlsCert: "/c.pem", tlsKey: "/k.pem"),
            environment: ["TELEMETRY_PASS": Self.strong]
        )
        #expect(settings.listen == ListenAddress(host: "::", port: 8443))
        #expect(settings.scheme == "https")
    }

    @Test("the config's web: section: listen, password file relative to the config, allowed hosts; unknown keys named")
    func webSection() throws {
        _ = try write(Self.strong, "web-pw")
        let config = try write(
            """
            pipeline:
              rounds: 2
            web:
              listen: 127.0.0.1:8080
              password_file: web-pw
              allowed_hosts: [dash.example]
            """,
            "web.yaml"
        )
        let settings = try WebSettingsLoader.load(WebOptions(configPath: config, socket: "/s"), environment: [:])
        #expect(settings.listen.port == 8080)
        #expect(settings.operatorPassword == Self.strong)
        #expect(settings.allowedHosts.contains("dash.example:8080"))
        let bad = try write("web:\n  listn: 1.2.3.4:5\n", "bad.yaml")
        let error = #expect(throws: WebSettingsError.self) {
            try WebSettingsLoader.load(WebOptions(configPath: bad, socket: "/s"), environment: [:])
        }
        #expect(error?.description.contains("web.listn") == true)
    }

    @Test("allowed hosts: the listen address and loopback names, with and without the port; nothing else")
    func allowedHosts() {
        let settings = WebSettings(socketPath: "/s", operatorPassword: Self.strong)
        #expect(settings.allowedHosts.isSuperset(of: ["127.0.0.1:7779", "localhost:7779", "localhost", "[::1]:7779"]))
        #expect(!settings.allowedHosts.contains("evil.example"))
        #expect(!settings.allowedHosts.contains("localhost.evil.example:7779"))
    }
}
