import HeidiCore

/// Who made a request, as far as heidi-web could establish it.
public struct Principal: Sendable, Equatable {
    /// How the credentials came.
    public enum Method: String, Sendable {
        case basic, token, session
    }

    public var role: Role
    public var user: String
    public var method: Method
    public var address: String
    /// The browser session, for `method == .session`.
    public var session: Session?

    /// What heidid journals for an action: who and from where (`operator (session) from 203.0.113.7 via heidi-web`).
    public var actor: String { "\(user) (\(method.rawValue)) from \(address) via heidi-web" }
}

/// Checks passwords and tokens against the settings, in constant time.
public struct Authenticator: Sendable {
    let settings: WebSettings

    public init(settings: WebSettings) { self.settings = settings }

    /// The role an HTTP Basic user and password grant: `operator` (alias `admin`, the original engine's reporters'
    /// user) with the operator password, `viewer` with the viewer password; nil otherwise.
    public func role(user: String, password: String) -> Role? {
        let operatorMatch = ConstantTime.equals(password, settings.operatorPassword)
        let viewerMatch = settings.viewerPassword.map { ConstantTime.equals(password, $0) } ?? false
        switch user {
        case "operator", "admin": return operatorMatch ? .operator : nil
        case "viewer": return viewerMatch || operatorMatch ? .viewer : nil
        case "": return operatorMatch ? .operator : (viewerMatch ? .viewer : nil)
        default: return nil
        }
    }

    /// The role a bearer token grants.
    public func role(token: String) -> Role? {
        var granted: Role?
        for candidate in settings.tokens where ConstantTime.equals(token, candidate.token) {
            granted = max(granted ?? candidate.role, candidate.role)
        }
        return granted
    }

    /// Decodes `Basic base64(user:password)`.
    static func basicCredentials(_ value: String) -> (user: String, password: String)? {
        guard let decoded = Base64.decode(value), let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else {
            return nil
        }
        return (
            String(decoding: decoded[..<colon], as: UTF8.self), String(decoding: decoded[(colon + 1)...], as: UTF8.self)
        )
    }
}
