import HeidiCore

/// Removes the run's API key, and anything else that looks like a secret, from text before it is shown or written.
///
/// The key itself is replaced wherever it appears (even when it does not look like a known token format), then
/// HeidiCore's `Redactor` masks bearer tokens, `sk-...` keys and `*_API_KEY=` assignments.
public struct SecretScrubber: Sendable {
    private let secrets: [String]

    public init(secrets: [String] = []) {
        // Very short "keys" would mask ordinary words; nobody uses those as real keys.
        self.secrets = secrets.filter { $0.utf8.count >= 6 }.sorted { $0.utf8.count > $1.utf8.count }
    }

    public func scrub(_ text: String) -> String {
        var result = text
        for secret in secrets where result.contains(secret) { result = result.replacing(secret, with: "[API_KEY]") }
        return Redactor.redact(result)
    }
}
