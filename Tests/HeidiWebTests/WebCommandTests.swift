import HeidiCore
import HeidiTestSupport
import Testing

/// The heidi-web executable's configuration exits (SPEC §12): 2 with a message naming what is missing.
@Suite("heidi-web command line")
struct WebCommandTests {
    static let strong = "correct-horse-battery-staple"

    @Test("--check-config: 0 with a strong password on loopback")
    func valid() throws {
        let result = try WebProcess.run(
            ["--check-config", "--socket", "/tmp/none.sock"],
            environment: ["TELEMETRY_PASS": Self.strong]
        )
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("127.0.0.1:7779"))
    }

    @Test("exit 2 naming the missing key: no password, 'admin', short, off loopback without TLS")
    func refusals() throws {
        let cases: [([String], [String: String], String)] = [
            ([], [:], "TELEMETRY_PASS"),
            ([], ["TELEMETRY_PASS": "admin"], "admin"),
            ([], ["TELEMETRY_PASS": "short-password"], "under 16"),
            (["--listen", "0.0.0.0:7779"], ["TELEMETRY_PASS": Self.strong], "tls_cert"),
            (["--listen", "192.0.2.1:7779", "--tls-cert", "/c.pem"], ["TELEMETRY_PASS": Self.strong], "tls_key"),
        ]
        for (arguments, environment, expected) in cases {
            let result = try WebProcess.run(
                ["--check-config", "--socket", "/tmp/none.sock"] + arguments,
                environment: environment
            )
            #expect(result.status == 2, "\(arguments) \(environment): \(result.stderr)")
            #expect(result.stderr.contains(expected), "\(result.stderr)")
        }
    }

    @Test("a TLS certificate that cannot be read: exit 2 naming the file")
    func unreadableCertificate() throws {
        let result = try WebProcess.run(
            [
                "--socket", "/tmp/none.sock", "--listen", "127.0.0.1:0", "--tls-cert", "/nonexistent/c.pem",
                "--tls-key", "/nonexistent/k.pem",
            ],
            environment: ["TELEMETRY_PASS": Self.strong]
        )
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("/nonexistent/c.pem"))
    }
}
