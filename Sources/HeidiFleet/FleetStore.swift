import HeidiCore

/// The dashboard's side of the fleet: one verified journal copy per worker, each worker's last status and heartbeat,
/// the fleet timeline, and the relay of requests to workers. One actor owns it all; the copies are files under
/// `directory`, so a restarted dashboard continues where it stopped.
public actor FleetStore {
    /// The dashboard's fleet settings (`web.fleet:`).
    public struct Settings: Sendable, Equatable {
        /// Where the copies live: `<directory>/<worker>/events.jsonl`.
        public var directory: String
        /// A worker is stale when its last heartbeat is older than this (seconds).
        public var staleAfter: Double
        /// `NAME TOKEN` lines; nil accepts the shared secret only.
        public var workersFile: String?
        /// HTTP Basic `NAME:SECRET` (the original engine's `TELEMETRY_PASS`); nil refuses Basic.
        public var sharedSecret: String?

        public init(directory: String, staleAfter: Double = 6, workersFile: String?, sharedSecret: String?) {
            self.directory = directory
            self.staleAfter = staleAfter
            self.workersFile = workersFile
            self.sharedSecret = sharedSecret
        }
    }

    /// What the dashboard knows of one worker.
    struct Worker {
        let name: String
        let copy: JournalCopy
        var status: [UInt8]?
        var summary = StatusSummary()
        var lastHeartbeat: Double?
        var address = ""
        var workerHead: UInt64 = 0
        var workerHeadTime: Int64?
        var copyHeadTime: Int64?
        var allowActions = false
        var stale = true
        var gaps = 0
        var batches = 0
        var eventsCopied = 0
    }

    public nonisolated let settings: Settings
    var credentials: WorkerCredentials
    var workers: [String: Worker] = [:]
    var timeline: [FleetEvent] = []
    static let timelineLimit = 500
    let eventLog: FleetEventLog
    let clock: @Sendable () -> Double
    let wallClock: @Sendable () -> Timestamp
    // The relay (FleetStore+Relay.swift).
    var polls: [String: (id: UInt64, continuation: CheckedContinuation<[FleetTask], Never>)] = [:]
    var queued: [String: [FleetTask]] = [:]
    var results:
        [String: (
            worker: String, task: FleetTask, continuation: CheckedContinuation<(status: Int, body: [UInt8]), Never>
        )] = [:]
    var nextID: UInt64 = 0

    /// Opens the fleet directory and every copy already in it.
    public init(
        settings: Settings,
        clock: @escaping @Sendable () -> Double = { Double(MonotonicClock.nanoseconds()) / 1e9 },
        wallClock: @escaping @Sendable () -> Timestamp = { Timestamp.now() }
    ) throws(FleetStoreError) {
        self.settings = settings
        self.clock = clock
        self.wallClock = wallClock
        do {
            credentials = try WorkerCredentials(file: settings.workersFile, sharedSecret: settings.sharedSecret)
        } catch {
            throw FleetStoreError(description: error.description)
        }
        do { try FileSystem.createDirectories(settings.directory) } catch {
            throw FleetStoreError(description: "web.fleet.dir: \(error)")
        }
        do { eventLog = try FleetEventLog(path: settings.directory + "/fleet-events.jsonl") } catch {
            throw FleetStoreError(description: error.description)
        }
        timeline = FleetEventLog.tail(eventLog.path, limit: Self.timelineLimit)
        for name in ((try? FileSystem.entries(of: settings.directory)) ?? []).sorted()
        where FleetWire.isValidName(name) && FileSystem.isDirectory(settings.directory + "/" + name) {
            do {
                workers[name] = Worker(name: name, copy: try JournalCopy(directory: settings.directory + "/" + name))
            } catch {
                throw FleetStoreError(description: error.description)
            }
        }
    }

    /// The worker the credentials name (tokens re-read when the file changed), or nil: answer 401.
    public func authenticate(authorization: String?) -> String? {
        do { try credentials.reloadIfChanged() } catch {
            ProcessEnvironment.printError("heidi-web: fleet: \(error) (keeping the tokens read before)")
        }
        return credentials.worker(authorization: authorization)
    }

    /// What a worker's request says about it, on every request: its head, its head's time, whether it allows actions.
    public struct Contact: Sendable {
        public var address: String
        public var workerHead: UInt64?
        public var workerHeadTime: Int64?
        public var allowActions: Bool?

        public init(address: String, workerHead: UInt64?, workerHeadTime: Int64?, allowActions: Bool?) {
            self.address = address
            self.workerHead = workerHead
            self.workerHeadTime = workerHeadTime
            self.allowActions = allowActions
        }
    }

    /// A heartbeat (every request counts as one): the copy's head, where the worker resumes.
    public func heartbeat(_ name: String, _ contact: Contact) throws(FleetStoreError) -> BatchReply {
        let worker = try touch(name, contact)
        return BatchReply(head: worker.copy.head, wantsStatus: worker.status == nil)
    }

    /// A batch of journal lines: checked against the copy's chain, appended as far as it holds; 409 with the head
    /// on a gap or fork, so the worker rewinds from its files.
    public func receive(
        _ name: String,
        batch: [UInt8],
        _ contact: Contact
    ) throws(FleetStoreError) -> (status: Int, reply: BatchReply) {
        var worker = try touch(name, contact)
        let verdict: ChainCheck
        do { verdict = try worker.copy.append(batch) } catch { throw FleetStoreError(description: error.description) }
        worker.batches += 1
        worker.eventsCopied += verdict.appended
        if verdict.appended > 0 {
            let lines = verdict.append.split(separator: 0x0a, omittingEmptySubsequences: true).suffix(20)
            if let last = lines.last { worker.copyHeadTime = Self.lineTime(last) }
            for line in lines {
                if var event = FleetEvent.fromJournal(line + [0x0a], worker: name) {
                    event.message = String(event.message.prefix(300))
                    remember(event, log: false)
                }
            }
        }
        var problem: String?
        switch verdict.stop {
        case .none: break
        case .gap(let expected, let got):
            worker.gaps += 1
            problem =
                "gap: the copy expects seq \(expected), the batch had \(got); resume after \(worker.copy.head.seq)"
            record(name, "gap", "warn", problem ?? "")
        case .fork(let seq, let expected, let got):
            problem =
                "fork at seq \(seq): the worker's line says the one before hashes to \(got), the copy's hashes to \(expected)"
            if !got.hasPrefix("copy already forked") { record(name, "fork", "error", problem ?? "") }
        case .malformed(let reason):
            problem = "malformed batch: \(reason)"
            record(name, "malformed", "error", problem ?? "")
        }
        workers[name] = worker
        let reply = BatchReply(
            head: worker.copy.head,
            appended: verdict.appended,
            duplicates: verdict.duplicates,
            problem: problem
        )
        return (problem == nil ? 200 : 409, reply)
    }

    /// heidid's status JSON from a worker (sent on every change).
    public func receiveStatus(_ name: String, _ bytes: [UInt8], _ contact: Contact) throws(FleetStoreError) {
        var worker = try touch(name, contact)
        guard let value = try? StrictJSONParser.parse(bytes) else {
            throw FleetStoreError(description: "status from \(name) is not JSON")
        }
        worker.status = bytes
        worker.summary = StatusSummary(value)
        workers[name] = worker
    }

    /// Marks workers stale or back; called every second by the dashboard.
    public func tick() {
        let now = clock()
        for (name, worker) in workers {
            let stale = worker.lastHeartbeat.map { now - $0 > settings.staleAfter } ?? true
            if stale && !worker.stale {
                record(
                    name,
                    "stale",
                    "warn",
                    "no heartbeat for \(Int(settings.staleAfter)) s (last from \(worker.address))"
                )
            }
            workers[name]?.stale = stale
        }
    }

    /// Registers the worker on first contact and records the heartbeat.
    private func touch(_ name: String, _ contact: Contact) throws(FleetStoreError) -> Worker {
        var worker: Worker
        if let known = workers[name] {
            worker = known
        } else {
            do { worker = Worker(name: name, copy: try JournalCopy(directory: settings.directory + "/" + name)) } catch
            {
                throw FleetStoreError(description: error.description)
            }
        }
        if worker.stale {
            record(
                name,
                worker.lastHeartbeat == nil ? "joined" : "back",
                "info",
                "connected from \(contact.address); copy at seq \(worker.copy.head.seq)"
            )
        }
        worker.stale = false
        worker.lastHeartbeat = clock()
        worker.address = contact.address
        if let head = contact.workerHead { worker.workerHead = head }
        if let time = contact.workerHeadTime { worker.workerHeadTime = time }
        if let allow = contact.allowActions { worker.allowActions = allow }
        workers[name] = worker
        return worker
    }

    /// Adds a fleet event to the timeline (and, for the dashboard's own events, to fleet-events.jsonl).
    func record(_ worker: String, _ kind: String, _ level: String, _ message: String) {
        remember(
            FleetEvent(ts: wallClock().description, worker: worker, kind: kind, level: level, message: message),
            log: true
        )
        if level != "info" { ProcessEnvironment.printError("heidi-web: fleet: \(worker): \(kind): \(message)") }
    }

    func remember(_ event: FleetEvent, log: Bool) {
        if log { eventLog.append(event) }
        timeline.append(event)
        if timeline.count > Self.timelineLimit + 100 { timeline.removeFirst(timeline.count - Self.timelineLimit) }
    }

    /// The `ts` of a journal line, in microseconds.
    static func lineTime(_ line: ArraySlice<UInt8>) -> Int64? {
        let marker = Array(#","ts":""#.utf8)
        guard let start = line.firstRange(of: marker)?.upperBound else { return nil }
        let rest = line[start...]
        guard let end = rest.firstIndex(of: 0x22) else { return nil }
        return Timestamp(parsing: String(decoding: rest[..<end], as: UTF8.self))?.microseconds
    }
}

/// Why the dashboard could not take a worker's request; names the file or worker.
public struct FleetStoreError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// The fields of heidid's status the fleet page shows.
struct StatusSummary: Sendable, Equatable, Codable {
    var state = "unknown"
    var runID: String?
    var round = 0
    var rounds = 0
    var stage: String?
    var child: String?
    var lastError: String?

    init() {}

    init(_ value: JSONValue) {
        state = value["state"]?.stringValue ?? "unknown"
        runID = value["run_id"]?.stringValue
        round = Int(value["round"]?.int64Value ?? 0)
        rounds = Int(value["rounds"]?.int64Value ?? 0)
        stage = value["stage"]?.stringValue
        if let found = value["child"], !found.isNull {
            let argv: [String]
            if case .array(let items)? = found["argv"] { argv = items.compactMap(\.stringValue) } else { argv = [] }
            child = "pid \(found["pid"]?.int64Value ?? 0): \(argv.joined(separator: " ").prefix(200))"
        }
        if let error = value["last_error"], !error.isNull {
            lastError = error["message"]?.stringValue ?? error["reason"]?.stringValue ?? "error"
        }
    }
}
