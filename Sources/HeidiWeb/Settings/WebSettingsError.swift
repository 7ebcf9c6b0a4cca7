/// Why heidi-web refuses its configuration (exit 2). Each description names the flag, key, variable or file.
public enum WebSettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Listening off loopback without `tls_cert` and `tls_key`; carries the address and the missing key(s).
    case tlsRequired(address: String, missing: [String])
    /// Only one of the certificate and key was given.
    case tlsIncomplete(missing: String)
    /// No operator password from any source.
    case noPassword
    /// The password is `admin` or shorter than 16 characters; carries where it came from.
    case weakPassword(source: String, reason: String)
    /// A file named by a flag or key could not be read.
    case unreadable(path: String, key: String, reason: String)
    /// A value is malformed.
    case invalid(key: String, message: String)

    public var description: String {
        switch self {
        case .tlsRequired(let address, let missing):
            return
                "refusing to listen on \(address) (not loopback) without TLS: missing \(missing.joined(separator: " and ")) (--tls-cert/--tls-key or web.tls_cert/web.tls_key)"
        case .tlsIncomplete(let missing):
            return "TLS needs both a certificate and a key: missing \(missing)"
        case .noPassword:
            return
                "no operator password: set web.password_file (or --password-file), a systemd credential heidi-web-password (LoadCredential=), or TELEMETRY_PASS"
        case .weakPassword(let source, let reason):
            return
                "the operator password from \(source) is refused: \(reason) (use at least \(PasswordPolicy.minimumLength) characters, not 'admin')"
        case .unreadable(let path, let key, let reason):
            return "cannot read \(path) (\(key)): \(reason)"
        case .invalid(let key, let message):
            return "\(key): \(message)"
        }
    }
}

/// The password rules: no default, never `admin`, at least 16 characters.
public enum PasswordPolicy {
    public static let minimumLength = 16

    /// Nil when acceptable, else the reason.
    public static func problem(with password: String) -> String? {
        if password.lowercased() == "admin" { return "'admin' was the original engine's default" }
        if password.count < minimumLength { return "\(password.count) characters is under \(minimumLength)" }
        return nil
    }
}
