import HeidiCore

/// What the shipper needs from the worker's own heidid (heidi-web's control-socket client in production).
public protocol WorkerLocal: Sendable {
    /// heidid's status JSON, one line per change (`status?watch=1`); nil when heidid cannot be reached.
    func statusChanges() async -> AsyncStream<[UInt8]>?
    /// A relayed request, answered by heidid.
    func perform(
        _ method: String,
        _ target: String,
        body: [UInt8],
        actor: String?
    ) async -> (status: Int, body: [UInt8])
}

/// The worker's fleet settings (`web.dashboard:` or `DASHBOARD_HOST`).
public struct ShipperSettings: Sendable, Equatable {
    public var endpoint: FleetEndpoint
    /// `Bearer <token>` or `Basic base64(<name>:<TELEMETRY_PASS>)`.
    public var authorization: String
    /// The worker's journal (`<state_dir>/events.jsonl`).
    public var journalPath: String
    /// Whether the dashboard may act on this worker (`web.dashboard.allow_actions`, off by default).
    public var allowActions: Bool
    /// Seconds between heartbeats.
    public var heartbeat: Double
    /// Largest batch, in bytes.
    public var batchBytes: Int

    public init(
        endpoint: FleetEndpoint,
        authorization: String,
        journalPath: String,
        allowActions: Bool = false,
        heartbeat: Double = 2,
        batchBytes: Int = 1 << 20
    ) {
        self.endpoint = endpoint
        self.authorization = authorization
        self.journalPath = journalPath
        self.allowActions = allowActions
        self.heartbeat = heartbeat
        self.batchBytes = batchBytes
    }
}

/// The worker's side of the fleet: dials out to the dashboard and keeps its copy of the journal complete (batches
/// resumed by seq from the journal files, rewinding to the dashboard's head on a gap), sends heidid's status on every
/// change, heartbeats, and answers relayed requests. It holds one batch at most, however long the dashboard is away.
public actor FleetShipper {
    let settings: ShipperSettings
    let client: FleetClient
    let local: any WorkerLocal
    let source: JournalSource
    /// The latest status not yet delivered.
    var pendingStatus: [UInt8]?
    var lastStatus: [UInt8]?
    /// The last problem reported on stderr (each is said once, not every retry).
    var lastProblem: String?
    public private(set) var shippedEvents = 0

    public init(settings: ShipperSettings, local: any WorkerLocal) throws(FleetConfigError) {
        self.settings = settings
        self.local = local
        client = try FleetClient(endpoint: settings.endpoint, authorization: settings.authorization)
        source = JournalSource(path: settings.journalPath)
    }

    /// Runs until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.journalLoop() }
            group.addTask { await self.statusLoop() }
            group.addTask { await self.heartbeatLoop() }
            group.addTask { await self.taskLoop() }
        }
    }

    func say(_ problem: String?) {
        guard problem != lastProblem else { return }
        lastProblem = problem
        ProcessEnvironment.printError("heidi-web: fleet: " + (problem ?? "connected to \(client.name)"))
    }

    func contactHeaders() -> [(String, String)] {
        var headers = [(FleetWire.allowActionsHeader, settings.allowActions ? "1" : "0")]
        if let head = source.head() {
            headers.append((FleetWire.workerHeadHeader, String(head.seq)))
            if let time = head.time { headers.append((FleetWire.workerHeadTimeHeader, String(time))) }
        }
        return headers
    }

    static func sleep(_ seconds: Double) async {
        try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
    }

    /// Asks for the copy's head, ships what follows it, and rewinds to the head the dashboard answers on a gap.
    func journalLoop() async {
        var cursor: UInt64?
        var backoff = 0.5
        while !Task.isCancelled {
            do throws(FleetClientError) {
                if cursor == nil {
                    let answer = try await client.send("POST", FleetWire.heartbeat, headers: contactHeaders())
                    guard let reply = decodeReply(answer) else {
                        await Self.sleep(backoff)
                        backoff = min(backoff * 2, 5)
                        continue
                    }
                    cursor = reply.head
                    say(nil)
                }
                guard let after = cursor, let batch = source.read(after: after, maxBytes: settings.batchBytes) else {
                    await Self.sleep(0.2)
                    continue
                }
                let answer = try await client.send(
                    "POST",
                    FleetWire.journal,
                    headers: contactHeaders(),
                    body: batch.bytes,
                    timeout: 30
                )
                guard let reply = decodeReply(answer) else {
                    cursor = nil
                    await Self.sleep(backoff)
                    backoff = min(backoff * 2, 5)
                    continue
                }
                backoff = 0.5
                if answer.status == 200 {
                    shippedEvents += reply.appended
                    cursor = reply.head
                } else {
                    // A gap (rewind from the files to the copy's head) or a fork (the copy takes no more: wait).
                    say("the dashboard answered \(answer.status): \(reply.problem ?? "?")")
                    cursor = reply.head
                    if reply.problem?.hasPrefix("fork") == true { await Self.sleep(5) }
                }
            } catch {
                say("\(error); retrying")
                cursor = nil
                await Self.sleep(backoff)
                backoff = min(backoff * 2, 5)
            }
        }
    }

    /// The dashboard's reply, or nil after saying why there is none.
    func decodeReply(_ answer: FleetAnswer) -> BatchReply? {
        if answer.status == 200 || answer.status == 409,
            let reply = try? JSONCoding.decode(BatchReply.self, from: answer.body)
        {
            return reply
        }
        say("the dashboard answered \(answer.status): \(String(decoding: answer.body.prefix(300), as: UTF8.self))")
        return nil
    }

    /// Follows heidid's status and sends each change.
    func statusLoop() async {
        while !Task.isCancelled {
            guard let changes = await local.statusChanges() else {
                await Self.sleep(1)
                continue
            }
            for await line in changes {
                let trimmed = Array(line.split(separator: 0x0a).last ?? [])
                guard !trimmed.isEmpty else { continue }
                lastStatus = trimmed
                pendingStatus = trimmed
                await sendStatus()
            }
            await Self.sleep(1)
        }
    }

    func sendStatus() async {
        guard let status = pendingStatus else { return }
        do {
            let answer = try await client.send("POST", FleetWire.status, headers: contactHeaders(), body: status)
            if answer.status == 200, pendingStatus == status { pendingStatus = nil }
        } catch {}
    }

    /// Heartbeats; a dashboard that lost this worker's status (it restarted) gets it again.
    func heartbeatLoop() async {
        while !Task.isCancelled {
            if let answer = try? await client.send(
                "POST",
                FleetWire.heartbeat,
                headers: contactHeaders(),
                timeout: max(settings.heartbeat, 2)
            ),
                answer.status == 200, let reply = try? JSONCoding.decode(BatchReply.self, from: answer.body)
            {
                if reply.wantsStatus == true, pendingStatus == nil { pendingStatus = lastStatus }
                await sendStatus()
            }
            await Self.sleep(settings.heartbeat)
        }
    }

    /// Collects relayed requests by long poll and answers each from heidid; actions only when allowed.
    func taskLoop() async {
        while !Task.isCancelled {
            guard
                let answer = try? await client.send(
                    "GET",
                    FleetWire.tasks + "?wait=20",
                    headers: contactHeaders(),
                    timeout: 30
                ),
                answer.status == 200, let tasks = try? JSONCoding.decode([FleetTask].self, from: answer.body)
            else {
                await Self.sleep(1)
                continue
            }
            for task in tasks {
                let result = await respond(to: task)
                _ = try? await client.send(
                    "POST",
                    FleetWire.taskResultPrefix + task.id,
                    headers: [(FleetWire.statusHeader, String(result.status))],
                    body: result.body
                )
            }
        }
    }

    /// heidid's answer to a relayed request, or the refusal: reads of status, scalars, logs, events and health;
    /// actions only with `allow_actions`, journalled by heidid with who asked, from where, via which dashboard.
    func respond(to task: FleetTask) async -> (status: Int, body: [UInt8]) {
        let path = String(task.target.split(separator: "?", maxSplits: 1).first ?? "")
        let reads = ["/api/v1/status", "/api/v1/scalars", "/api/v1/logs", "/api/v1/events", "/api/v1/health"]
        switch task.method {
        case "GET" where reads.contains(path):
            if path == "/api/v1/events" || path == "/api/v1/logs", task.target.contains("follow=1") {
                return (400, FleetStore.errorBody("bad_request", "follow is not relayed"))
            }
            return await local.perform("GET", task.target, body: [], actor: nil)
        case "POST" where path.hasPrefix("/api/v1/action/"):
            guard settings.allowActions else {
                ProcessEnvironment.printError(
                    "heidi-web: fleet: refused \(task.target) from the dashboard by \(task.actor ?? "unknown"): remote actions are off (web.dashboard.allow_actions)"
                )
                return (
                    403,
                    FleetStore.errorBody(
                        "forbidden",
                        "this worker does not allow remote actions (web.dashboard.allow_actions is off)"
                    )
                )
            }
            let actor = "\(task.actor ?? "unknown") via fleet dashboard \(client.endpoint.host):\(client.endpoint.port)"
            return await local.perform("POST", task.target, body: Array(task.body.utf8), actor: actor)
        default:
            return (403, FleetStore.errorBody("forbidden", "\(task.method) \(path) is not relayed to workers"))
        }
    }
}
