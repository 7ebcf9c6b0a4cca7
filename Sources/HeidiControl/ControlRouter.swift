import HeidiAPI
import HeidiCore

/// A parsed request as the router sees it.
public struct ControlRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [String: String]
    public var body: [UInt8]
    public var peer: PeerCredentials
    /// Who asked, as a client that acts for someone else says (heidi-web's `X-Heidi-Actor`): journalled with actions.
    public var actor: String?

    public init(method: String, uri: String, body: [UInt8], peer: PeerCredentials, actor: String? = nil) {
        self.method = method
        self.body = body
        self.peer = peer
        self.actor = actor
        let target = RequestTarget(uri)
        path = target.path
        query = target.query
    }
}

/// Maps API paths to the backend, with authorization and input validation (SPEC §5).
public struct ControlRouter: Sendable {
    let backend: any ControlBackend
    let authorizer: Authorizer
    /// The server's request latency histogram, appended to `/metrics`.
    public let stats: RequestStats

    public init(backend: any ControlBackend, authorizer: Authorizer, stats: RequestStats = RequestStats()) {
        self.backend = backend
        self.authorizer = authorizer
        self.stats = stats
    }

    /// The response to a request that is answered at once, without waiting for the engine: status, from what the
    /// engine last published. Nil for every other request. `path` is the request target; one with a query is not
    /// answered here (`route` answers it the same way).
    public func immediateResponse(method: String, path: String) -> ControlResponse? {
        guard method == "GET" || method == "HEAD", path == API.status else { return nil }
        guard let status = backend.publishedStatusJSON() else { return .error(.unavailable, "heidid is starting") }
        return ControlResponse(status: 200, body: .bytes(status))
    }

    public func route(_ request: ControlRequest) async -> ControlResponse {
        if request.method == "GET", request.path == API.status, let watch = request.query["watch"] {
            guard let watch = flag(watch) else { return .error(.badRequest, "watch must be 0 or 1") }
            if watch {
                return ControlResponse(
                    status: 200,
                    contentType: "application/x-ndjson",
                    body: .stream(backend.statusUpdates())
                )
            }
        }
        if let response = immediateResponse(method: request.method, path: request.path) { return response }
        switch (request.method, request.path) {
        case ("GET", API.health):
            return await backend.isReady()
                ? .json(200, HealthResponse(ok: true)) : .error(.unavailable, "heidid is starting")
        case ("GET", API.metrics):
            let text = await backend.metrics() + stats.exposition()
            return ControlResponse(
                status: 200,
                contentType: "text/plain; version=0.0.4",
                body: .bytes(Array(text.utf8))
            )
        case ("GET", API.events):
            guard let after = UInt64(request.query["after"] ?? "0") else {
                return .error(.badRequest, "after must be a non-negative integer (a journal seq)")
            }
            guard let follow = flag(request.query["follow"]) else {
                return .error(.badRequest, "follow must be 0 or 1")
            }
            return stream(await backend.events(after: after, follow: follow), contentType: "application/x-ndjson")
        case ("GET", API.logs):
            return await logs(request)
        case ("GET", API.scalars):
            switch await backend.scalars(runID: request.query["run_id"]) {
            case .success(let bytes): return ControlResponse(status: 200, body: .bytes(bytes))
            case .failure(let error): return .json(error.error.code.httpStatus, error)
            }
        case ("POST", let path) where path.hasPrefix(API.actionPrefix):
            return await action(String(path.dropFirst(API.actionPrefix.count)), request)
        case (_, API.status):
            return methodNotAllowed(request, allowed: ["GET", "HEAD"])
        case (_, API.health), (_, API.metrics), (_, API.events), (_, API.logs), (_, API.scalars):
            return methodNotAllowed(request, allowed: ["GET"])
        case (_, let path)
        where path.hasPrefix(API.actionPrefix)
            && Action(rawValue: String(path.dropFirst(API.actionPrefix.count))) != nil:
            return methodNotAllowed(request, allowed: ["POST"])
        default:
            return .error(.notFound, "no such endpoint: \(request.path)")
        }
    }

    /// 405 with the `Allow` header RFC 9110 requires, listing the methods the path answers.
    private func methodNotAllowed(_ request: ControlRequest, allowed: [String]) -> ControlResponse {
        var response = ControlResponse.error(
            .methodNotAllowed,
            "\(request.method) is not allowed on \(request.path); use \(allowed.joined(separator: " or "))"
        )
        response.headers.append(("Allow", allowed.joined(separator: ", ")))
        return response
    }

    private func flag(_ value: String?) -> Bool? {
        switch value {
        case nil, "0", "false": return false
        case "1", "true", "": return true
        default: return nil
        }
    }

    private func stream(_ result: Result<AsyncStream<[UInt8]>, APIErrorBody>, contentType: String) -> ControlResponse {
        switch result {
        case .success(let chunks): return ControlResponse(status: 200, contentType: contentType, body: .stream(chunks))
        case .failure(let error): return .json(error.error.code.httpStatus, error)
        }
    }

    private func logs(_ request: ControlRequest) async -> ControlResponse {
        guard let stage = request.query["stage"], Stage(rawValue: stage) != nil else {
            return .error(.badRequest, "stage must be one of \(Stage.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var round: Int?
        if let text = request.query["round"] {
            guard let value = Int(text), value >= 1 else { return .error(.badRequest, "round must be an integer >= 1") }
            round = value
        }
        var tail: Int?
        if let text = request.query["tail"] {
            guard let value = Int(text), value >= 0 else { return .error(.badRequest, "tail must be an integer >= 0") }
            tail = value
        }
        var fromLine: Int?
        if let text = request.query["from_line"] {
            guard let value = Int(text), value >= 0 else {
                return .error(.badRequest, "from_line must be an integer >= 0")
            }
            fromLine = value
        }
        guard let follow = flag(request.query["follow"]) else { return .error(.badRequest, "follow must be 0 or 1") }
        switch await backend.logs(stage: stage, round: round, tail: tail, fromLine: fromLine, follow: follow) {
        case .success(let log):
            var headers = [("X-Heidi-First-Line", String(log.firstLine))]
            if let rotated = log.rotatedPart { headers.append(("X-Heidi-Rotated-Part", rotated)) }
            if follow { headers.append(("Trailer", API.stageEndTrailer)) }
            return ControlResponse(
                status: 200,
                contentType: "text/plain; charset=utf-8",
                body: .stream(log.chunks),
                headers: headers,
                trailers: { await log.ending().map { [(API.stageEndTrailer, $0)] } ?? [] }
            )
        case .failure(let error):
            return .json(error.error.code.httpStatus, error)
        }
    }

    private func action(_ name: String, _ request: ControlRequest) async -> ControlResponse {
        guard let action = Action(rawValue: name) else {
            return .error(
                .notFound,
                "no such action: \(name) (actions: \(Action.allCases.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        guard authorizer.mayControl(request.peer) else {
            return .error(.forbidden, authorizer.refusal(for: request.peer))
        }
        var start: StartRequest?
        if action == .start, !request.body.allSatisfy({ [0x20, 0x0a, 0x0d, 0x09].contains($0) }) {
            do { start = try JSONCoding.decode(StartRequest.self, from: request.body) } catch {
                return .error(
                    .badRequest,
                    "body must be {\"mode\":\"full\"|\"collect\",\"rounds\":N,\"paused\":true|false,\"discard\":true|false} (all optional): \(error)"
                )
            }
            if let rounds = start?.rounds, rounds < 1 { return .error(.badRequest, "rounds must be at least 1") }
        }
        // The actor is what the client claims (heidi-web's logged-in user); the peer's uid is what the kernel says.
        let actor = request.actor.map { "\($0), relayed by uid \(request.peer.uid)" }
        switch await backend.perform(action, start: start, actor: actor) {
        case .success(let response): return .json(202, response)
        case .failure(let error): return .json(error.error.code.httpStatus, error)
        }
    }
}
