import HeidiCore

/// The security gate every request passes before the router (SPEC §12, issue 17 item 3): the Host allowlist, methods,
/// Origin / `Sec-Fetch-Site` on POST, rate-limited credentials, CSRF for cookie sessions, and roles.
public struct RequestPolicy: Sendable {
    /// What the gate decided.
    public enum Decision: Sendable {
        /// A public route (the page's files, `/health`, login): served without credentials; `principal` when some
        /// were given and are valid.
        case anonymous(Principal?)
        case allowed(Principal)
        case refused(WebResponse)
    }

    /// Paths answered without credentials.
    public static let publicPaths: Set<String> = [
        "/", "/index.html", "/app.js", "/app.css", "/favicon.svg", "/health",
        "/api/v1/login", "/api/v1/logout", "/api/v1/session",
        "/fleet", "/fleet.js", "/fleet.css",
    ]

    public let settings: WebSettings
    public let sessions: SessionStore
    public let limiter: LoginLimiter
    let authenticator: Authenticator
    let allowedHosts: Set<String>

    public init(settings: WebSettings, sessions: SessionStore, limiter: LoginLimiter) {
        self.settings = settings
        self.sessions = sessions
        self.limiter = limiter
        authenticator = Authenticator(settings: settings)
        allowedHosts = settings.allowedHosts
    }

    /// The role a request needs: operator for every POST that acts (`/api/v1/action/*`), viewer for the rest.
    public static func requiredRole(method: String, path: String) -> Role {
        method == "POST"
            && (path.hasPrefix("/api/v1/action/") || path == "/api/v1/action" || path.hasPrefix("/api/v1/fleet/"))
            ? .operator : .viewer
    }

    public func check(_ request: WebRequest) -> Decision {
        guard let host = request.header("host")?.lowercased(), allowedHosts.contains(host) else {
            return .refused(
                .error(
                    421,
                    "forbidden",
                    "Host \(request.header("host").map { "\"\($0)\"" } ?? "(none)") is not one this dashboard answers to (web.allowed_hosts)"
                )
            )
        }
        guard ["GET", "HEAD", "POST"].contains(request.method) else {
            return .refused(WebRoutes.wrongMethod(request))
        }
        if request.method == "POST", let refusal = crossSiteRefusal(request, host: host) { return .refused(refusal) }
        let isPublic = Self.publicPaths.contains(request.path)
        let principal: Principal
        switch credentials(request) {
        case .none:
            if isPublic { return .anonymous(nil) }
            return .refused(
                unauthorized(request, "authentication required: log in, or use HTTP Basic or a bearer token")
            )
        case .refused(let response):
            return .refused(response)
        case .valid(let found):
            principal = found
        }
        if request.method == "POST", principal.method == .session, let session = principal.session {
            guard let token = request.header("x-csrf-token"), ConstantTime.equals(token, session.csrfToken) else {
                return .refused(.error(403, "forbidden", "missing or wrong X-CSRF-Token for this session"))
            }
        }
        if isPublic { return .anonymous(principal) }
        let needed = Self.requiredRole(method: request.method, path: request.path)
        guard principal.role >= needed else {
            return .refused(
                .error(
                    403,
                    "forbidden",
                    "the \(principal.role.rawValue) role may not do this; it needs the \(needed.rawValue) role"
                )
            )
        }
        return .allowed(principal)
    }

    /// A POST from another origin: refused by `Origin` (must be this dashboard's own) and `Sec-Fetch-Site` (must be
    /// same-origin, or none for a typed URL). Requests without either header come from programs, not browsers.
    func crossSiteRefusal(_ request: WebRequest, host: String) -> WebResponse? {
        if let site = request.header("sec-fetch-site")?.lowercased(), site != "same-origin", site != "none" {
            return .error(403, "forbidden", "cross-site POST refused (Sec-Fetch-Site: \(site))")
        }
        if let origin = request.header("origin")?.lowercased() {
            let own = "\(request.isTLS ? "https" : "http")://\(host)"
            guard origin == own else {
                return .error(403, "forbidden", "cross-origin POST refused (Origin \(origin) is not \(own))")
            }
        }
        return nil
    }

    enum Credentials {
        case none
        case refused(WebResponse)
        case valid(Principal)
    }

    /// Authorization (Basic or Bearer) first, then the session cookie. Failed passwords and tokens count towards
    /// the address's limit; a limited address is refused before anything is compared.
    func credentials(_ request: WebRequest) -> Credentials {
        let address = request.remoteAddress
        if let authorization = request.header("authorization") {
            if let wait = limiter.retryAfter(address) { return .refused(tooMany(wait)) }
            let parts = authorization.split(separator: " ", maxSplits: 1)
            let scheme = parts.first?.lowercased() ?? ""
            let value = parts.count > 1 ? String(parts[1]).trimmingCharacters(in: " ") : ""
            if scheme == "basic", let (user, password) = Authenticator.basicCredentials(value),
                let role = authenticator.role(user: user, password: password)
            {
                limiter.recordSuccess(address)
                return .valid(
                    Principal(
                        role: role,
                        user: user.isEmpty || user == "admin" ? role.rawValue : user,
                        method: .basic,
                        address: address
                    )
                )
            }
            if scheme == "bearer", let role = authenticator.role(token: value) {
                limiter.recordSuccess(address)
                return .valid(Principal(role: role, user: role.rawValue, method: .token, address: address))
            }
            limiter.recordFailure(address)
            return .refused(unauthorized(request, "wrong credentials"))
        }
        if let id = request.cookie(SessionStore.cookieName) {
            guard let session = sessions.lookup(id) else {
                return Self.publicPaths.contains(request.path)
                    ? .none : .refused(unauthorized(request, "session expired: log in again"))
            }
            return .valid(
                Principal(
                    role: session.role,
                    user: session.role.rawValue,
                    method: .session,
                    address: address,
                    session: session
                )
            )
        }
        return .none
    }

    /// 401; programs (no `Sec-Fetch-Mode`) are told to use Basic, browsers are not (no password prompt).
    func unauthorized(_ request: WebRequest, _ message: String) -> WebResponse {
        let challenge: [(String, String)] =
            request.header("sec-fetch-mode") == nil
            ? [("WWW-Authenticate", "Basic realm=\"heidi\", charset=\"UTF-8\"")] : []
        return .error(401, "unauthorized", message, headers: challenge)
    }

    func tooMany(_ wait: Int) -> WebResponse {
        .error(
            429,
            "too_many_requests",
            "too many failed logins from this address; retry in \(wait) s",
            headers: [("Retry-After", String(wait))]
        )
    }

    /// Checks a login form's password (rate-limited); the new session on success.
    public func login(_ request: WebRequest, user: String, password: String) -> LoginOutcome {
        if let wait = limiter.retryAfter(request.remoteAddress) { return .refused(tooMany(wait)) }
        guard let role = authenticator.role(user: user, password: password) else {
            limiter.recordFailure(request.remoteAddress)
            return .refused(.error(401, "unauthorized", "wrong password"))
        }
        limiter.recordSuccess(request.remoteAddress)
        return .loggedIn(sessions.create(role: role))
    }

    /// The session cookie: HttpOnly, SameSite=Strict, Secure over TLS.
    public func sessionCookie(_ session: Session?, tls: Bool) -> String {
        let value = session?.id ?? ""
        let age = session == nil ? 0 : Int(sessions.maximumAge)
        return
            "\(SessionStore.cookieName)=\(value); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(age)\(tls ? "; Secure" : "")"
    }
}

/// The answer to a login form.
public enum LoginOutcome: Sendable {
    case loggedIn(Session)
    case refused(WebResponse)
}
