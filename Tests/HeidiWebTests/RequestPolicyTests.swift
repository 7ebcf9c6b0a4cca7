import NIOConcurrencyHelpers
import Testing

@testable import HeidiWeb

/// A clock the tests move by hand.
final class ManualClock: Sendable {
    private let now = NIOLockedValueBox<Double>(1000)
    func advance(_ seconds: Double) { now.withLockedValue { $0 += seconds } }
    var read: @Sendable () -> Double { { [self] in now.withLockedValue { $0 } } }
}

/// The security gate, rule by rule (issue 17 item 3).
@Suite("heidi-web request policy")
struct RequestPolicyTests {
    static let password = "correct-horse-battery-staple"
    static let viewerPassword = "viewer-password-0123"
    let clock = ManualClock()
    let policy: RequestPolicy

    init() {
        let settings = WebSettings(
            socketPath: "/s",
            operatorPassword: Self.password,
            viewerPassword: Self.viewerPassword,
            tokens: [BearerToken(token: "program-token-0123456789", role: .viewer)]
        )
        policy = RequestPolicy(
            settings: settings,
            sessions: SessionStore(clock: clock.read),
            limiter: LoginLimiter(clock: clock.read)
        )
    }

    static func basic(_ user: String, _ password: String) -> (String, String) {
        ("Authorization", "Basic " + base64(Array("\(user):\(password)".utf8)))
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var out = ""
        var index = 0
        while index < bytes.count {
            let chunk = Array(bytes[index..<min(index + 3, bytes.count)])
            let value = chunk.enumerated().reduce(0) { $0 | Int($1.element) << (16 - 8 * $1.offset) }
            for position in 0..<4 {
                out.append(position <= chunk.count ? table[(value >> (18 - 6 * position)) & 63] : "=")
            }
            index += 3
        }
        return out
    }

    func request(
        _ method: String = "GET",
        _ uri: String,
        _ headers: [(String, String)] = [],
        from address: String = "127.0.0.1"
    ) -> WebRequest {
        WebRequest(method: method, uri: uri, headers: [("Host", "127.0.0.1:7779")] + headers, remoteAddress: address)
    }

    func status(_ decision: RequestPolicy.Decision) -> Int {
        switch decision {
        case .refused(let response): return response.status
        case .allowed, .anonymous: return 200
        }
    }

    func role(_ decision: RequestPolicy.Decision) -> Role? {
        switch decision {
        case .allowed(let principal): return principal.role
        case .anonymous(let principal): return principal?.role
        case .refused: return nil
        }
    }

    @Test("no credentials: 401 on the API (with a Basic challenge for programs), the page and /health are public")
    func unauthenticated() {
        let refused = policy.check(request("GET", "/api/v1/status"))
        #expect(status(refused) == 401)
        if case .refused(let response) = refused {
            #expect(response.header("WWW-Authenticate")?.hasPrefix("Basic") == true)
        }
        if case .refused(let response) = policy.check(request("GET", "/api/v1/status", [("Sec-Fetch-Mode", "cors")])) {
            #expect(response.header("WWW-Authenticate") == nil)
        }
        #expect(status(policy.check(request("GET", "/health"))) == 200)
        #expect(status(policy.check(request("GET", "/"))) == 200)
        #expect(status(policy.check(request("GET", "/metrics"))) == 401)
    }

    @Test("Basic: operator and its alias admin get the operator role, viewer the viewer role; a wrong password 401")
    func basicRoles() {
        #expect(
            role(policy.check(request("GET", "/api/v1/status", [Self.basic("operator", Self.password)]))) == .operator
        )
        #expect(role(policy.check(request("GET", "/api/v1/status", [Self.basic("admin", Self.password)]))) == .operator)
        #expect(
            role(policy.check(request("GET", "/api/v1/status", [Self.basic("viewer", Self.viewerPassword)]))) == .viewer
        )
        #expect(
            status(policy.check(request("GET", "/api/v1/status", [Self.basic("operator", Self.viewerPassword)]))) == 401
        )
        #expect(
            status(policy.check(request("GET", "/api/v1/status", [Self.basic("operator", Self.password + "x")]))) == 401
        )
        #expect(status(policy.check(request("GET", "/api/v1/status", [Self.basic("root", Self.password)]))) == 401)
    }

    @Test("bearer tokens: the token's role; an unknown token 401")
    func bearer() {
        #expect(
            role(policy.check(request("GET", "/api/v1/status", [("Authorization", "Bearer program-token-0123456789")])))
                == .viewer
        )
        #expect(
            status(
                policy.check(request("GET", "/api/v1/status", [("Authorization", "Bearer program-token-012345678")]))
            ) == 401
        )
    }

    @Test("roles: a viewer may read but not act (403); an operator may act")
    func roles() {
        let viewer = Self.basic("viewer", Self.viewerPassword)
        #expect(status(policy.check(request("GET", "/api/v1/events", [viewer]))) == 200)
        #expect(status(policy.check(request("POST", "/api/v1/action/stop", [viewer]))) == 403)
        #expect(
            status(policy.check(request("POST", "/api/v1/action/stop", [Self.basic("operator", Self.password)]))) == 200
        )
        #expect(RequestPolicy.requiredRole(method: "GET", path: "/api/v1/action/stop") == .viewer)
    }

    @Test("Host allowlist on every request, /health included (DNS rebinding): 421")
    func host() {
        for host in ["evil.example", "evil.example:7779", "127.0.0.1.evil.example:7779"] {
            let request = WebRequest(method: "GET", uri: "/health", headers: [("Host", host)])
            #expect(status(policy.check(request)) == 421)
        }
        #expect(status(policy.check(WebRequest(method: "GET", uri: "/health"))) == 421)
        #expect(
            status(policy.check(WebRequest(method: "GET", uri: "/health", headers: [("Host", "localhost:7779")])))
                == 200
        )
    }

    @Test("POST from another origin or site: 403 even with valid credentials; same origin and programs pass")
    func origin() {
        let auth = Self.basic("operator", Self.password)
        #expect(
            status(policy.check(request("POST", "/api/v1/action/stop", [auth, ("Origin", "http://evil.example")])))
                == 403
        )
        #expect(
            status(policy.check(request("POST", "/api/v1/action/stop", [auth, ("Origin", "http://127.0.0.1:7780")])))
                == 403
        )
        #expect(status(policy.check(request("POST", "/api/v1/action/stop", [auth, ("Origin", "null")]))) == 403)
        #expect(
            status(policy.check(request("POST", "/api/v1/action/stop", [auth, ("Sec-Fetch-Site", "cross-site")])))
                == 403
        )
        #expect(
            status(policy.check(request("POST", "/api/v1/action/stop", [auth, ("Sec-Fetch-Site", "same-site")]))) == 403
        )
        #expect(status(policy.check(request("POST", "/api/v1/login", [("Origin", "http://evil.example")]))) == 403)
        #expect(
            status(policy.check(request("POST", "/api/v1/action/stop", [auth, ("Origin", "http://127.0.0.1:7779")])))
                == 200
        )
        #expect(status(policy.check(request("POST", "/api/v1/action/stop", [auth]))) == 200)
    }

    @Test("sessions: a login gives an HttpOnly SameSite=Strict cookie (Secure over TLS); POST needs its CSRF token")
    func sessionsAndCSRF() throws {
        guard
            case .loggedIn(let session) = policy.login(
                request("POST", "/api/v1/login"),
                user: "operator",
                password: Self.password
            )
        else {
            Issue.record("login refused")
            return
        }
        let cookie = policy.sessionCookie(session, tls: false)
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains("Secure"))
        #expect(policy.sessionCookie(session, tls: true).contains("; Secure"))
        let withCookie = ("Cookie", "theme=dark; heidi_session=\(session.id)")
        #expect(role(policy.check(request("GET", "/api/v1/status", [withCookie]))) == .operator)
        #expect(status(policy.check(request("POST", "/api/v1/action/stop", [withCookie]))) == 403)
        #expect(
            status(
                policy.check(
                    request(
                        "POST",
                        "/api/v1/action/stop",
                        [withCookie, ("X-CSRF-Token", Self.differentFirstCharacter(session.csrfToken))]
                    )
                )
            ) == 403
        )
        #expect(
            status(
                policy.check(request("POST", "/api/v1/action/stop", [withCookie, ("X-CSRF-Token", session.csrfToken)]))
            ) == 200
        )
        #expect(status(policy.check(request("GET", "/api/v1/status", [("Cookie", "heidi_session=forged")]))) == 401)
        clock.advance(9 * 3600)
        #expect(status(policy.check(request("GET", "/api/v1/status", [withCookie]))) == 401)
    }

    @Test("failed logins are limited per address: the 6th try in a minute gets 429 with Retry-After; others unaffected")
    func rateLimit() {
        let wrong = Self.basic("operator", "wrong-password-wrong")
        for _ in 0..<5 {
            #expect(status(policy.check(request("GET", "/api/v1/status", [wrong], from: "192.0.2.1"))) == 401)
        }
        let limited = policy.check(
            request("GET", "/api/v1/status", [Self.basic("operator", Self.password)], from: "192.0.2.1")
        )
        #expect(status(limited) == 429)
        if case .refused(let response) = limited { #expect(Int(response.header("Retry-After") ?? "") == 60) }
        guard
            case .refused = policy.login(
                request("POST", "/api/v1/login", from: "192.0.2.1"),
                user: "",
                password: Self.password
            )
        else {
            Issue.record("the login form must be limited too")
            return
        }
        #expect(
            status(
                policy.check(
                    request("GET", "/api/v1/status", [Self.basic("operator", Self.password)], from: "192.0.2.2")
                )
            ) == 200
        )
        clock.advance(61)
        #expect(
            status(
                policy.check(
                    request("GET", "/api/v1/status", [Self.basic("operator", Self.password)], from: "192.0.2.1")
                )
            ) == 200
        )
    }

    @Test("methods other than GET, HEAD and POST: 405")
    func methods() {
        #expect(
            status(policy.check(request("DELETE", "/api/v1/status", [Self.basic("operator", Self.password)]))) == 405
        )
        #expect(status(policy.check(request("PUT", "/"))) == 405)
        #expect(status(policy.check(request("PUT", "/no/such/path"))) == 404)
    }

    @Test("a known path asked with a method it does not take: 405 with that path's own Allow (RFC 9110)")
    func allowPerPath() {
        func allow(_ method: String, _ path: String) -> String? {
            guard case .refused(let response) = policy.check(request(method, path)) else { return nil }
            return response.header("Allow")
        }
        #expect(allow("DELETE", "/api/v1/status") == "GET, HEAD")
        #expect(allow("PATCH", "/api/v1/logout") == "POST")
        #expect(allow("PUT", "/api/v1/action/stop") == "POST")
        #expect(WebRoutes.wrongMethod(WebRequest(method: "POST", uri: "/health")).status == 405)
        #expect(WebRoutes.wrongMethod(WebRequest(method: "POST", uri: "/health")).header("Allow") == "GET, HEAD")
        #expect(WebRoutes.wrongMethod(WebRequest(method: "GET", uri: "/api/v1/logout")).header("Allow") == "POST")
        #expect(WebRoutes.wrongMethod(WebRequest(method: "GET", uri: "/nothing")).status == 404)
        #expect(WebRoutes.wrongMethod(WebRequest(method: "GET", uri: "/api/v1/action/bogus")).status == 404)
    }

    @Test("the session store is bounded: the least recently used session goes first")
    func boundedSessions() {
        let store = SessionStore(capacity: 3, clock: clock.read)
        let first = store.create(role: .viewer)
        clock.advance(1)
        for _ in 0..<3 {
            _ = store.create(role: .viewer)
            clock.advance(1)
        }
        #expect(store.count == 3)
        #expect(store.lookup(first.id) == nil)
    }

    /// The token with its first character changed: a wrong token of the right length. (Prefixing "0" to the rest
    /// was the right token whenever the random one began with "0", one run in sixteen.)
    static func differentFirstCharacter(_ token: String) -> String {
        (token.first == "0" ? "1" : "0") + token.dropFirst()
    }
}
