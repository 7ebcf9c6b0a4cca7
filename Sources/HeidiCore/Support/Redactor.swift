/// Removes secrets and terminal escapes from text before it is written anywhere (journal, logs, journald, API).
///
/// Case-insensitive patterns: GitHub, GitLab, OpenAI and AWS keys, bearer tokens, private key blocks, and
/// `*_API_KEY=`/`TOKEN=`/`SECRET=`/`PASSWORD=` style assignments. A cheap byte scan decides whether the regular
/// expressions need to run at all, so ordinary output lines cost almost nothing.
public enum Redactor {
    nonisolated(unsafe) private static let ansi = #/\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])/#
    nonisolated(unsafe) private static let rules: [(Regex<Substring>, String)] = [
        (#/-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.*?-----END [A-Z ]*PRIVATE KEY-----)?/#.ignoresCase(), "[PRIVATE_KEY]"),
        (#/github_pat_[A-Za-z0-9_]{20,}/#.ignoresCase(), "[GITHUB_TOKEN]"),
        (#/gh[pousr]_[A-Za-z0-9]{30,}/#.ignoresCase(), "[GITHUB_TOKEN]"),
        (#/glpat-[A-Za-z0-9_\-]{20,}/#.ignoresCase(), "[GITLAB_TOKEN]"),
        (#/sk-[A-Za-z0-9_\-]{20,}/#.ignoresCase(), "[OPENAI_KEY]"),
        (#/(?:AKIA|ASIA)[A-Z0-9]{16}/#.ignoresCase(), "[AWS_KEY]"),
        (#/bearer\s+[A-Za-z0-9._~+\/=\-]{16,}/#.ignoresCase(), "Bearer [BEARER_TOKEN]"),
    ]
    nonisolated(unsafe) private static let assignment =
        #/(?<name>[A-Za-z0-9_.\-]*(?:api_key|apikey|api-key|token|secret|secret_key|access_key|password|passwd))(?<sep>["']?\s*[=:]\s*["']?)(?<value>[^\s"',;]+)/#
        .ignoresCase()

    private static let triggers: [[UInt8]] = [
        "private key", "github_pat", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "glpat-", "sk-", "akia", "asia",
        "bearer", "key", "token", "secret", "passw",
    ].map { Array($0.utf8) }

    /// `text` with secrets replaced by markers like `[OPENAI_KEY]` and ANSI escape sequences removed.
    public static func redact(_ text: String) -> String {
        let bytes = Array(text.utf8)
        let hasEscape = bytes.contains(0x1b)
        let suspicious = containsTrigger(bytes)
        guard hasEscape || suspicious else { return text }
        var result = text
        if hasEscape { result = result.replacing(ansi, with: "") }
        guard suspicious else { return result }
        for (pattern, marker) in rules { result = result.replacing(pattern, with: marker) }
        result = result.replacing(assignment) { match in
            match.output.value.hasPrefix("[") && match.output.value.hasSuffix("]")
                ? String(match.output.0)
                : "\(match.output.name)\(match.output.sep)[REDACTED]"
        }
        return result
    }

    private static func containsTrigger(_ bytes: [UInt8]) -> Bool {
        let lower = bytes.map { (65...90).contains($0) ? $0 | 0x20 : $0 }
        for trigger in triggers {
            guard lower.count >= trigger.count else { continue }
            var start = 0
            while start <= lower.count - trigger.count {
                if lower[start] == trigger[0], lower[start..<(start + trigger.count)].elementsEqual(trigger) { return true }
                start += 1
            }
        }
        return false
    }
}

/// Redacts a stream of lines, including the body lines of a multi-line private key block.
public struct LineRedactor: Sendable {
    private var insidePrivateKey = false

    public init() {}

    public mutating func redact(_ line: String) -> String {
        let upper = line.uppercased()
        if insidePrivateKey {
            if upper.contains("-----END") && upper.contains("PRIVATE KEY-----") { insidePrivateKey = false }
            return "[PRIVATE_KEY]"
        }
        if upper.contains("-----BEGIN") && upper.contains("PRIVATE KEY-----")
            && !(upper.contains("-----END") && upper.contains("PRIVATE KEY-----", after: "-----END"))
        {
            insidePrivateKey = true
        }
        return Redactor.redact(line)
    }
}

extension String {
    fileprivate func contains(_ needle: String, after marker: String) -> Bool {
        guard let range = self.firstRange(of: marker) else { return false }
        return self[range.upperBound...].contains(needle)
    }
}
