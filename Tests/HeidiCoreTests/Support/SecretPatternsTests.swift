import Testing

@testable import HeidiCore

/// The hand-written matchers against the regular expressions they replaced (the oracle below, kept only here), on
/// lines generated from the fragments secrets and their surroundings are made of, and on each pattern's length limits.
@Suite("Secret patterns")
struct SecretPatternsTests {
    /// The redaction rules as they were written with Swift Regex, applied the same way.
    enum Oracle {
        nonisolated(unsafe) static let ansi = #/\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])/#
        nonisolated(unsafe) static let rules: [(Regex<Substring>, String)] = [
            (
                #/-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.*?-----END [A-Z ]*PRIVATE KEY-----)?/#.ignoresCase(),
                "[PRIVATE_KEY]"
            ),
            (#/github_pat_[A-Za-z0-9_]{20,}/#.ignoresCase(), "[GITHUB_TOKEN]"),
            (#/gh[pousr]_[A-Za-z0-9]{30,}/#.ignoresCase(), "[GITHUB_TOKEN]"),
            (#/glpat-[A-Za-z0-9_\-]{20,}/#.ignoresCase(), "[GITLAB_TOKEN]"),
            (#/sk-[A-Za-z0-9_\-]{20,}/#.ignoresCase(), "[OPENAI_KEY]"),
            (#/(?:AKIA|ASIA)[A-Z0-9]{16}/#.ignoresCase(), "[AWS_KEY]"),
            (#/bearer\s+[A-Za-z0-9._~+\/=\-]{16,}/#.ignoresCase(), "Bearer [BEARER_TOKEN]"),
        ]
        nonisolated(unsafe) static let assignment =
            #/(?<name>[A-Za-z0-9_.\-]*(?:api_key|apikey|api-key|token|secret|secret_key|access_key|password|passwd))(?<sep>["']?\s*[=:]\s*["']?)(?<value>[^\s"',;]+)/#
            .ignoresCase()

        static func removeEscapes(_ text: String) -> String { text.replacing(ansi, with: "") }

        static func replaceSecrets(_ text: String) -> String {
            var result = text
            for (pattern, marker) in rules { result = result.replacing(pattern, with: marker) }
            return result.replacing(assignment) { match in
                match.output.value.hasPrefix("[") && match.output.value.hasSuffix("]")
                    ? String(match.output.0)
                    : "\(match.output.name)\(match.output.sep)[REDACTED]"
            }
        }
    }

    static let fragments = [
        "token", "TOKEN", "Token", "api_key", "API-KEY", "apikey", "secret", "secret_key", "access_key", "passwd",
        "password",
        "max_tokens", "bearer", "Bearer", "sk-", "SK-", "ghp_", "gho_", "ghr_", "github_pat_", "glpat-", "AKIA", "asia",
        "-----BEGIN ", "-----END ", "RSA ", "OPENSSH ", "PRIVATE KEY", "private key", "-----",
        "-----BEGIN RSA PRIVATE KEY-----", "-----begin private key-----", "-----END RSA PRIVATE KEY-----",
        "-----END PRIVATE KEY-----", "=", ":", " ", "  ", "\t",
        "\"", "'", ",", ";", "[", "]", "[OPENAI_KEY]", "abcdefghij", "ABCDEFGHIJKLMNOP", "0123456789",
        "abcdefghijABCDEFGHIJ0123456789",
        "abcdefghijABCDEFGHIJ0123456789abcdefghij", "_", "-", ".", "~",
        "+", "/", "é", "中", "🙂", "\u{A0}", "\u{2028}", "\u{3000}", "\r\n", "\n", "\r", "\u{85}", "\u{0B}", "\u{1B}",
        "\u{1B}[",
        "[31m", "[0;1m", "m", "x", "@", "\\", "^", "?", "0",
    ]

    static let markers = [
        "[PRIVATE_KEY]", "[GITHUB_TOKEN]", "[GITLAB_TOKEN]", "[OPENAI_KEY]", "[AWS_KEY]", "[BEARER_TOKEN]",
        "[REDACTED]",
    ]

    /// A line of 1–24 fragments, the same for the same seed.
    static func line(_ random: inout SplitMix) -> String {
        (0..<(1 + Int(random.next() % 24))).map { _ in fragments[Int(random.next() % UInt64(fragments.count))] }
            .joined()
    }

    @Test func generatedLinesMatchTheRegularExpressions() {
        var random = SplitMix(seed: 0x5EC2E7)
        var redactedLines = 0
        var linesPerMarker: [String: Int] = [:]
        for _ in 0..<6_000 {
            let text = Self.line(&random)
            let bytes = Array(text.utf8)
            let expectedEscapes = Oracle.removeEscapes(text)
            #expect(
                String(decoding: SecretPatterns.removeEscapes(from: bytes), as: UTF8.self) == expectedEscapes,
                "escapes in \(text.debugDescription)"
            )
            let expected = Oracle.replaceSecrets(text)
            #expect(
                String(decoding: SecretPatterns.replaceSecrets(in: bytes), as: UTF8.self) == expected,
                "secrets in \(text.debugDescription)"
            )
            if expected != text { redactedLines += 1 }
            for marker in Self.markers where expected.contains(marker) && !text.contains(marker) {
                linesPerMarker[marker, default: 0] += 1
            }
        }
        // The generator must reach every pattern, or the comparison proves little.
        #expect(redactedLines > 600, "only \(redactedLines) generated lines had a secret")
        for marker in Self.markers { #expect(linesPerMarker[marker, default: 0] >= 20, "\(marker): \(linesPerMarker)") }
    }

    @Test(arguments: [
        ("github_pat_", "a", 20), ("ghp_", "A", 30), ("ghs_", "9", 30), ("glpat-", "-", 20), ("sk-", "_", 20),
        ("AKIA", "Z", 16), ("asia", "1", 16), ("Bearer  ", "~", 16), ("bearer\u{2003}", "=", 16),
    ])
    func lengthLimits(_ prefix: String, _ body: String, _ minimum: Int) {
        for length in [minimum - 1, minimum, minimum + 1, minimum + 17] {
            for text in [
                "x" + prefix + String(repeating: body, count: length) + ";",
                prefix + String(repeating: body, count: length),
            ] {
                #expect(
                    String(decoding: SecretPatterns.replaceSecrets(in: Array(text.utf8)), as: UTF8.self)
                        == Oracle.replaceSecrets(text),
                    "\(text.debugDescription)"
                )
            }
        }
    }

    @Test func escapeSequencesOfEveryFinalByte() {
        for byte in UInt8(0x20)...0x7E {
            let character = String(UnicodeScalar(byte))
            for text in ["a\u{1B}\(character)b", "a\u{1B}[12;3 \(character)b", "\u{1B}[?25\(character)"] {
                #expect(
                    String(decoding: SecretPatterns.removeEscapes(from: Array(text.utf8)), as: UTF8.self)
                        == Oracle.removeEscapes(text),
                    "\(text.debugDescription)"
                )
            }
        }
    }

    @Test func anEscapeSplittingASecretsNameDoesNotHideIt() {
        #expect(Redactor.redact("TO\u{1B}[1mKEN=hunter2") == "TOKEN=[REDACTED]")
    }
}

/// A small deterministic generator (SplitMix64), so a failing line can be reproduced.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
