import HeidiAPI
import HeidiCore
import HeidiFleet
import NIOPosix

/// The dashboard's fleet routes (docs/fleet.md): `/fleet/v1/*` for workers (their token or the shared secret; no
/// cookies, no Host check: a browser cannot send a worker's token), and `/api/v1/fleet*` for the fleet page, behind
/// the usual policy (viewer reads, operator acts).
struct FleetRoutes: Sendable {
    let store: FleetStore
    let limiter: LoginLimiter

    /// Largest journal batch a worker may send.
    static let maxBatch = 4 << 20

    /// A worker's request.
    func worker(_ request: WebRequest) async -> WebResponse {
        if let wait = limiter.retryAfter(request.remoteAddress) {
            return .error(
                429,
                "too_many_requests",
                "too many failed attempts from this address; retry in \(wait) s",
                headers: [("Retry-After", String(wait))]
            )
        }
        guard let name = await store.authenticate(authorization: request.header("authorization")) else {
            limiter.recordFailure(request.remoteAddress)
            return .error(
                401,
                "unauthorized",
                "unknown, wrong or revoked worker token",
                headers: [("WWW-Authenticate", "Bearer realm=\"heidi fleet\"")]
            )
        }
        limiter.recordSuccess(request.remoteAddress)
        let contact = FleetStore.Contact(
            address: request.remoteAddress,
            workerHead: request.header(FleetWire.workerHeadHeader).flatMap { UInt64($0) },
            workerHeadTime: request.header(FleetWire.workerHeadTimeHeader).flatMap { Int64($0) },
            allowActions: request.header(FleetWire.allowActionsHeader).map { $0 == "1" }
        )
        do {
            switch (request.method, request.path) {
            case ("POST", FleetWire.heartbeat):
                return .json(200, try await store.heartbeat(name, contact))
            case ("POST", FleetWire.journal):
                let (status, reply) = try await store.receive(name, batch: request.body, contact)
                return .json(status, reply)
            case ("POST", FleetWire.status):
                try await store.receiveStatus(name, request.body, contact)
                return .jsonBytes(200, Array("{\"ok\":true}\n".utf8))
            case ("GET", FleetWire.tasks):
                _ = try await store.heartbeat(name, contact)
                let wait = min(25, max(0, Double(request.query["wait"] ?? "20") ?? 20))
                return .json(200, await store.nextTasks(name, wait: wait))
            case ("POST", let path) where path.hasPrefix(FleetWire.taskResultPrefix):
                let id = String(path.dropFirst(FleetWire.taskResultPrefix.count))
                let status = Int(request.header(FleetWire.statusHeader) ?? "") ?? 502
                guard await store.complete(name, id: id, status: status, body: request.body) else {
                    return .error(404, "not_found", "no request \(id) is waiting for \(name)")
                }
                return .jsonBytes(200, Array("{\"ok\":true}\n".utf8))
            default:
                return .error(404, "not_found", "no such fleet endpoint: \(request.method) \(request.path)")
            }
        } catch {
            return .error(500, "internal", error.description)
        }
    }

    /// The fleet page's data and actions (the policy has passed).
    func page(_ request: WebRequest, principal: Principal?) async -> WebResponse {
        let method = request.method == "HEAD" ? "GET" : request.method
        if method == "GET" && request.path == "/api/v1/fleet" { return .json(200, await store.views()) }
        if method == "GET" && request.path == "/api/v1/fleet/events" { return .json(200, await store.events()) }
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        // api v1 fleet workers <name> <what> [<rest>]
        guard parts.count >= 6, parts[3] == "workers", FleetWire.isValidName(parts[4]) else {
            return .error(404, "not_found", "no such endpoint: \(request.method) \(request.path)")
        }
        let name = parts[4]
        switch (method, parts[5], parts.count) {
        case ("GET", "status", 6):
            guard let status = await store.status(of: name) else {
                return .error(404, "not_found", "no status from \(name) yet")
            }
            return .jsonBytes(200, status + [0x0a])
        case ("GET", "journal", 6):
            guard let path = await store.copyPath(of: name) else {
                return .error(404, "not_found", "no worker named \(name)")
            }
            let after = UInt64(request.query["after"] ?? "0") ?? 0
            // A file read of up to 256 KiB: on NIO's thread pool, not on the event loop this task runs on.
            let bytes =
                (try? await NIOThreadPool.singleton.runIfActive {
                    JournalSource(path: path).read(after: after, maxBytes: 256 * 1024)?.bytes ?? []
                }) ?? []
            return WebResponse(
                status: 200,
                headers: [("Content-Type", "application/x-ndjson")],
                body: .bytes(bytes)
            )
        case ("GET", "relay", 7) where ["scalars", "logs", "status", "health"].contains(parts[6]):
            var target = "/api/v1/" + parts[6]
            let query = request.query.filter { $0.key != "follow" }.sorted { $0.key < $1.key }
            if !query.isEmpty {
                target +=
                    "?"
                    + query.map { "\(QueryEncoding.encode($0.key))=\(QueryEncoding.encode($0.value))" }.joined(
                        separator: "&"
                    )
            }
            let answer = await store.relay(name, method: "GET", target: target, actor: nil)
            return WebResponse(
                status: answer.status,
                headers: [("Content-Type", parts[6] == "logs" ? "text/plain; charset=utf-8" : "application/json")],
                body: .bytes(answer.body)
            )
        case ("POST", "action", 7):
            let actor = (principal?.actor ?? "unknown via heidi-web") + " (fleet dashboard)"
            let answer = await store.relay(
                name,
                method: "POST",
                target: API.actionPrefix + parts[6],
                actor: actor,
                body: String(decoding: request.body, as: UTF8.self)
            )
            return .jsonBytes(answer.status, answer.body)
        default:
            return .error(404, "not_found", "no such endpoint: \(request.method) \(request.path)")
        }
    }
}

/// The worker's heidid as the shipper sees it: heidi-web's control-socket client.
public struct WorkerLink: WorkerLocal {
    let upstream: any HeidiUpstream

    public init(upstream: any HeidiUpstream) { self.upstream = upstream }

    public func statusChanges() async -> AsyncStream<[UInt8]>? {
        guard let opened = try? await upstream.stream(API.status + "?watch=1"), opened.status == 200 else { return nil }
        // Chunks may hold parts of lines or several: reassemble whole lines.
        let chunks = opened.chunks
        return AsyncStream { continuation in
            let task = Task {
                var pending: [UInt8] = []
                for await chunk in chunks {
                    pending += chunk
                    while let newline = pending.firstIndex(of: 0x0a) {
                        continuation.yield(Array(pending[...newline]))
                        pending.removeSubrange(...newline)
                    }
                    if pending.count > 1 << 20 { pending.removeAll() }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public func perform(
        _ method: String,
        _ target: String,
        body: [UInt8],
        actor: String?
    ) async -> (status: Int, body: [UInt8]) {
        do {
            let reply = try await upstream.request(method, target, body: body, actor: actor)
            return (reply.status, reply.body)
        } catch {
            return (
                502,
                Array("{\"error\":{\"code\":\"unavailable\",\"message\":\(JSONText.quoted(error.description))}}\n".utf8)
            )
        }
    }
}
