import HeidiCore

/// One row of the fleet page (`GET /api/v1/fleet`).
public struct WorkerView: Sendable, Equatable, Codable {
    public var name: String
    public var up: Bool
    public var stale: Bool
    /// Seconds since the last heartbeat; nil when none since the dashboard started.
    public var heartbeatAge: Double?
    public var address: String
    public var state: String
    public var runID: String?
    public var round: Int
    public var rounds: Int
    public var stage: String?
    public var child: String?
    public var lastError: String?
    public var copySeq: UInt64
    public var workerSeq: UInt64
    public var lagSeq: UInt64
    public var lagSeconds: Double
    public var fork: String?
    public var allowActions: Bool
    public var gaps: Int
}

extension FleetStore {
    /// Every worker, by name.
    public func views() -> [WorkerView] {
        let now = clock()
        return workers.values.sorted { $0.name < $1.name }.map { worker in
            let age = worker.lastHeartbeat.map { now - $0 }
            let stale = age.map { $0 > settings.staleAfter } ?? true
            let lag = worker.workerHead > worker.copy.head.seq ? worker.workerHead - worker.copy.head.seq : 0
            var lagSeconds = 0.0
            if lag > 0, let workerTime = worker.workerHeadTime {
                lagSeconds = max(0, Double(workerTime - (worker.copyHeadTime ?? workerTime)) / 1e6)
            }
            let summary = worker.summary
            return WorkerView(
                name: worker.name,
                up: !stale,
                stale: stale,
                heartbeatAge: age,
                address: worker.address,
                state: summary.state,
                runID: summary.runID,
                round: summary.round,
                rounds: summary.rounds,
                stage: summary.stage,
                child: summary.child,
                lastError: summary.lastError,
                copySeq: worker.copy.head.seq,
                workerSeq: worker.workerHead,
                lagSeq: lag,
                lagSeconds: lagSeconds,
                fork: worker.copy.fork,
                allowActions: worker.allowActions,
                gaps: worker.gaps
            )
        }
    }

    /// The fleet timeline after index `after` of the events kept (newest last), at most `limit`.
    public func events(limit: Int = 200) -> [FleetEvent] {
        Array(timeline.suffix(limit))
    }

    /// A worker's last status JSON as it sent it.
    public func status(of name: String) -> [UInt8]? { workers[name]?.status }

    /// The path of a worker's copy (read by the page's event view and by `heidictl journal verify`).
    public func copyPath(of name: String) -> String? { workers[name]?.copy.path }

    /// The Prometheus exposition of the fleet, appended to the dashboard's `/metrics`.
    public func exposition() -> String {
        let views = views()
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ value: (WorkerView) -> String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for view in views { out += "\(name){worker=\"\(view.name)\"} \(value(view))\n" }
        }
        family(
            "heidi_fleet_worker_up",
            "gauge",
            "1 while the worker's heartbeats arrive (stale after web.fleet.stale_after)."
        ) { $0.up ? "1" : "0" }
        family(
            "heidi_fleet_worker_lag_seq",
            "gauge",
            "Journal events the worker has that the dashboard's copy does not."
        ) { String($0.lagSeq) }
        family(
            "heidi_fleet_worker_lag_seconds",
            "gauge",
            "Age of the oldest journal event not yet copied, by the worker's clock."
        ) { String($0.lagSeconds) }
        family("heidi_fleet_worker_copy_seq", "gauge", "The last seq in the dashboard's verified copy.") {
            String($0.copySeq)
        }
        family(
            "heidi_fleet_worker_heartbeat_age_seconds",
            "gauge",
            "Seconds since the worker's last heartbeat (-1: none yet)."
        ) {
            $0.heartbeatAge.map { String(format3($0)) } ?? "-1"
        }
        family(
            "heidi_fleet_worker_fork",
            "gauge",
            "1 when the worker's journal forked from the copy (the copy takes no more)."
        ) { $0.fork == nil ? "0" : "1" }
        family(
            "heidi_fleet_worker_gaps_total",
            "counter",
            "Batches that did not follow the copy's head (the worker rewound)."
        ) { String($0.gaps) }
        out +=
            "# HELP heidi_fleet_worker_state The worker's pipeline state (1 for the current one).\n# TYPE heidi_fleet_worker_state gauge\n"
        for view in views { out += "heidi_fleet_worker_state{worker=\"\(view.name)\",state=\"\(view.state)\"} 1\n" }
        return out
    }
}

/// Three decimals, without Foundation's formatting.
func format3(_ value: Double) -> String {
    let scaled = Int64((value * 1000).rounded())
    let sign = scaled < 0 ? "-" : ""
    let magnitude = abs(scaled)
    let fraction = String(magnitude % 1000)
    return "\(sign)\(magnitude / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
}
