import HeidiAPI
import HeidiCore
import HeidiFleet

/// heidi-web's routes (SPEC §12). Every request passes `RequestPolicy` first; data comes from heidid through
/// `upstream`, live data from the shared `EventHub`.
public struct WebRouter: Sendable {
    public let policy: RequestPolicy
    let upstream: any HeidiUpstream
    public let hub: EventHub
    public let metrics: WebMetrics
    /// Seconds between SSE keep-alive comments.
    let keepAlive: UInt64
    /// The dashboard's fleet (`web.fleet:`), when this heidi-web is one.
    let fleet: FleetRoutes?

    public init(
        policy: RequestPolicy,
        upstream: any HeidiUpstream,
        hub: EventHub,
        metrics: WebMetrics = WebMetrics(),
        keepAliveSeconds: UInt64 = 15,
        fleet: FleetStore? = nil
    ) {
        self.policy = policy
        self.upstream = upstream
        self.hub = hub
        self.metrics = metrics
        keepAlive = keepAliveSeconds
        self.fleet = fleet.map { FleetRoutes(store: $0, limiter: policy.limiter) }
    }

    /// Answers a request, with the security headers added.
    public func handle(_ request: WebRequest) async -> WebResponse {
        var response = await route(request)
        response.headers += SecurityHeaders.all(tls: request.isTLS)
        metrics.count(status: response.status)
        if request.method == "HEAD" { response.body = .bytes([]) }
        return response
    }

    func route(_ request: WebRequest) async -> WebResponse {
        // Workers authenticate with their token on every request (docs/fleet.md), before the browser policy.
        if request.path.hasPrefix("/fleet/v1/"), let fleet { return await fleet.worker(request) }
        let principal: Principal?
        switch policy.check(request) {
        case .refused(let response): return response
        case .anonymous(let found): principal = found
        case .allowed(let found): principal = found
        }
        let method = request.method == "HEAD" ? "GET" : request.method
        switch (method, request.path) {
        case ("GET", "/"), ("GET", "/index.html"): return Assets.response(.page)
        case ("GET", "/app.js"): return Assets.response(.script)
        case ("GET", "/app.css"): return Assets.response(.style)
        case ("GET", "/favicon.svg"): return Assets.response(.icon)
        case ("GET", "/fleet"): return Assets.response(.fleetPage)
        case ("GET", "/fleet.js"): return Assets.response(.fleetScript)
        case ("GET", "/fleet.css"): return Assets.response(.fleetStyle)
        case (_, let path) where path == "/api/v1/fleet" || path.hasPrefix("/api/v1/fleet/"):
            guard let fleet else {
                return .error(404, "not_found", "this heidi-web is not a fleet dashboard (web.fleet)")
            }
            return await fleet.page(request, principal: principal)
        case ("GET", "/health"):
            return .jsonBytes(200, Array("{\"ok\":true,\"heidid\":\(hub.connected)}\n".utf8))
        case ("GET", "/api/v1/session"):
            guard let principal else { return .error(401, "unauthorized", "not logged in") }
            return .json(200, SessionInfo(role: principal.role.rawValue, csrf: principal.session?.csrfToken))
        case ("POST", "/api/v1/login"): return login(request)
        case ("POST", "/api/v1/logout"):
            if let id = principal?.session?.id { policy.sessions.remove(id) }
            return .jsonBytes(
                200,
                Array("{\"ok\":true}\n".utf8),
                headers: [("Set-Cookie", policy.sessionCookie(nil, tls: request.isTLS))]
            )
        case ("GET", "/api/v1/status"), ("GET", "/api/v1/scalars"), ("GET", "/api/v1/health"):
            return await relay(request)
        case ("GET", "/api/v1/events"), ("GET", "/api/v1/logs"):
            return await relayStream(request)
        case ("POST", let path) where path.hasPrefix(API.actionPrefix):
            return await relay(request, actor: principal?.actor)
        case ("GET", "/metrics"):
            return await metricsResponse()
        case ("GET", "/api/v1/stream"):
            return serverSentEvents(request)
        case ("GET", "/api/v1/ws"):
            return .error(400, "bad_request", "/api/v1/ws is a WebSocket endpoint: connect with Upgrade: websocket")
        case ("GET", "/runs"):
            return await runs()
        case ("GET", "/status"):
            return await runStatus(request.query["run_id"])
        default:
            return WebRoutes.wrongMethod(request)
        }
    }

    struct SessionInfo: Encodable {
        var role: String
        var csrf: String?
    }

    struct LoginBody: Decodable {
        var user: String?
        var password: String
    }

    func login(_ request: WebRequest) -> WebResponse {
        guard let body = try? JSONCoding.decode(LoginBody.self, from: request.body) else {
            return .error(400, "bad_request", "body must be {\"password\":\"…\"} (user optional: operator or viewer)")
        }
        switch policy.login(request, user: body.user ?? "", password: body.password) {
        case .refused(let response): return response
        case .loggedIn(let session):
            return .json(
                200,
                SessionInfo(role: session.role.rawValue, csrf: session.csrfToken),
                headers: [("Set-Cookie", policy.sessionCookie(session, tls: request.isTLS))]
            )
        }
    }

    /// The request target as heidid knows it (same path, same query).
    func target(_ request: WebRequest) -> String {
        let query = request.query.sorted { $0.key < $1.key }.map {
            "\(QueryEncoding.encode($0.key))=\(QueryEncoding.encode($0.value))"
        }
        return query.isEmpty ? request.path : request.path + "?" + query.joined(separator: "&")
    }

    func relay(_ request: WebRequest, actor: String? = nil) async -> WebResponse {
        do {
            let reply = try await upstream.request(request.method, target(request), body: request.body, actor: actor)
            return WebResponse(status: reply.status, headers: passedHeaders(reply.headers), body: .bytes(reply.body))
        } catch {
            return .error(502, "unavailable", "\(error)")
        }
    }

    func relayStream(_ request: WebRequest) async -> WebResponse {
        do {
            let opened = try await upstream.stream(target(request))
            return WebResponse(
                status: opened.status,
                headers: passedHeaders(opened.headers),
                body: .stream(opened.chunks)
            )
        } catch {
            return .error(502, "unavailable", "\(error)")
        }
    }

    func passedHeaders(_ headers: [(String, String)]) -> [(String, String)] {
        headers.filter { ["content-type", "x-heidi-first-line", "x-heidi-api"].contains($0.0.lowercased()) }
    }

    func metricsResponse() async -> WebResponse {
        var text = ""
        if let reply = try? await upstream.request("GET", "/metrics", body: [], actor: nil), reply.status == 200 {
            text = String(decoding: reply.body, as: UTF8.self)
        }
        text += metrics.exposition(hub: hub, sessions: policy.sessions.count)
        if let fleet { text += await fleet.store.exposition() }
        return .text(200, text, contentType: "text/plain; version=0.0.4")
    }
}

/// Percent-encoding of query components sent on to heidid.
enum QueryEncoding {
    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}
