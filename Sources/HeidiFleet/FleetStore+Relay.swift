import HeidiCore

/// The relay: the dashboard cannot dial a worker (it may sit behind NAT), so requests for a worker's curves, log tail
/// or actions wait in a queue that the worker's long poll (`GET /fleet/v1/tasks`) collects; the worker answers each
/// with `POST /fleet/v1/tasks/<id>`.
extension FleetStore {
    /// Most requests queued for one worker; more are refused (503) rather than held without bound.
    static let queueLimit = 64

    /// The worker's long poll: queued tasks at once, else the next one within `wait` seconds, else none.
    public func nextTasks(_ name: String, wait: Double) async -> [FleetTask] {
        if let waiting = queued[name], !waiting.isEmpty {
            queued[name] = []
            return waiting
        }
        nextID += 1
        let id = nextID
        return await withCheckedContinuation { continuation in
            polls.removeValue(forKey: name)?.continuation.resume(returning: [])
            polls[name] = (id, continuation)
            Task { [weak self] in
                try? await Task.sleep(nanoseconds: UInt64(wait * 1e9))
                await self?.expirePoll(name, id)
            }
        }
    }

    private func expirePoll(_ name: String, _ id: UInt64) {
        guard let poll = polls[name], poll.id == id else { return }
        polls[name] = nil
        poll.continuation.resume(returning: [])
    }

    /// Sends a request to a worker's heidid and waits up to `timeout` seconds for its answer. Actions (POST) are
    /// recorded in the fleet log with who asked and from where, and refused here already when the worker said it does
    /// not allow them (it refuses them too).
    public func relay(
        _ name: String,
        method: String,
        target: String,
        actor: String?,
        body: String = "",
        timeout: Double = 10
    ) async -> (status: Int, body: [UInt8]) {
        guard let worker = workers[name] else { return (404, Self.errorBody("not_found", "no worker named \(name)")) }
        if method == "POST" {
            let who = actor ?? "unknown"
            guard worker.allowActions else {
                record(name, "relay_refused", "warn", "\(target) by \(who): the worker does not allow remote actions")
                return (
                    403,
                    Self.errorBody(
                        "forbidden",
                        "worker \(name) does not allow remote actions (web.dashboard.allow_actions)"
                    )
                )
            }
            record(name, "action", "info", "\(target) by \(who)")
        }
        guard (queued[name]?.count ?? 0) < Self.queueLimit else {
            return (503, Self.errorBody("unavailable", "worker \(name) has \(Self.queueLimit) requests waiting"))
        }
        nextID += 1
        let task = FleetTask(id: "t\(nextID)", method: method, target: target, actor: actor, body: body)
        return await withCheckedContinuation { continuation in
            results[task.id] = (name, task, continuation)
            if let poll = polls.removeValue(forKey: name) {
                poll.continuation.resume(returning: [task])
            } else {
                queued[name, default: []].append(task)
            }
            Task { [weak self] in
                try? await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
                await self?.expireResult(task.id, name)
            }
        }
    }

    private func expireResult(_ id: String, _ name: String) {
        queued[name]?.removeAll { $0.id == id }
        guard let waiting = results.removeValue(forKey: id) else { return }
        waiting.continuation.resume(
            returning: (
                504, Self.errorBody("unavailable", "worker \(name) did not answer in time (stale or partitioned?)")
            )
        )
    }

    /// A worker's answer to a relayed request; ignored unless that worker was asked. A refused action is recorded.
    public func complete(_ name: String, id: String, status: Int, body: [UInt8]) -> Bool {
        guard let waiting = results[id], waiting.worker == name else { return false }
        results[id] = nil
        // An action the worker (or its heidid) refused is recorded; a read that failed is the page's business only
        // (a record per failed poll would flood the timeline and the log).
        if status >= 400 && waiting.task.method == "POST" {
            record(
                name,
                "relay_refused",
                "warn",
                "\(waiting.task.target) by \(waiting.task.actor ?? "unknown"): the worker answered "
                    + "\(status): \(String(decoding: body.prefix(200), as: UTF8.self))"
            )
        }
        waiting.continuation.resume(returning: (status, body))
        return true
    }

    static func errorBody(_ code: String, _ message: String) -> [UInt8] {
        Array("{\"error\":{\"code\":\"\(code)\",\"message\":\(JSONText.quoted(message))}}\n".utf8)
    }
}
