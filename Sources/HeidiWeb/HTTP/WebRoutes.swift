import HeidiAPI

/// The methods each of heidi-web's own paths answers: the `Allow` of a 405 (RFC 9110 §15.5.6), one table for the
/// router and the request policy, so a known path asked with the wrong method says which methods it takes, and an
/// unknown path is 404 whatever the method. (The fleet's paths answer GET and POST for themselves, by subpath.)
enum WebRoutes {
    /// Paths read with GET (and HEAD).
    static let readable: Set<String> = [
        "/", "/index.html", "/app.js", "/app.css", "/favicon.svg", "/fleet", "/fleet.js", "/fleet.css", "/health",
        "/api/v1/session", "/api/v1/status", "/api/v1/scalars", "/api/v1/health", "/api/v1/events", "/api/v1/logs",
        "/metrics", "/api/v1/stream", "/api/v1/ws", "/runs", "/status",
    ]
    /// Paths that act, with POST.
    static let acting: Set<String> = ["/api/v1/login", "/api/v1/logout"]

    /// The `Allow` value of a path heidi-web serves; nil for a path it does not serve.
    static func allow(_ path: String) -> String? {
        if readable.contains(path) { return "GET, HEAD" }
        if acting.contains(path) || isAction(path) { return "POST" }
        if path == "/api/v1/fleet" || path.hasPrefix("/api/v1/fleet/") { return "GET, HEAD, POST" }
        return nil
    }

    /// Whether the path names one of heidid's actions (`/api/v1/action/stop`); another name under the prefix is no
    /// endpoint (404), as on heidid's socket.
    static func isAction(_ path: String) -> Bool {
        path.hasPrefix(API.actionPrefix) && Action(rawValue: String(path.dropFirst(API.actionPrefix.count))) != nil
    }

    /// The answer to a request whose method the path does not take: 405 with the path's `Allow`, or 404 when
    /// heidi-web serves no such path.
    static func wrongMethod(_ request: WebRequest) -> WebResponse {
        guard let allow = allow(request.path) else {
            return .error(404, "not_found", "no such endpoint: \(request.method) \(request.path)")
        }
        return .error(
            405,
            "method_not_allowed",
            "\(request.method) is not allowed on \(request.path); use \(allow)",
            headers: [("Allow", allow)]
        )
    }
}
