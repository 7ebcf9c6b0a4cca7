import Synchronization

/// Latency of control requests as the daemon sees them (request complete → response written), exposed in
/// `/metrics` as a Prometheus histogram so load tests can read the daemon's own p99.
public final class RequestStats: Sendable {
    /// Bucket upper bounds in seconds.
    static let bounds: [Double] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1]

    private struct Counts {
        var buckets = [UInt64](repeating: 0, count: RequestStats.bounds.count)
        var count: UInt64 = 0
        var sum: Double = 0
        var rejected: UInt64 = 0
    }

    private let counts = Mutex(Counts())

    public init() {}

    func record(seconds: Double) {
        counts.withLock { counts in
            counts.count += 1
            counts.sum += seconds
            if let index = Self.bounds.firstIndex(where: { seconds <= $0 }) { counts.buckets[index] += 1 }
        }
    }

    /// Requests answered so far (the histogram's count).
    public var answered: UInt64 { counts.withLock { $0.count } }

    func recordRejected() { counts.withLock { $0.rejected += 1 } }

    /// Prometheus text for the histogram and the 503 counter.
    public func exposition() -> String {
        let snapshot = counts.withLock { $0 }
        var out =
            "# HELP heidi_control_request_duration_seconds Control requests, from complete request to response written.\n"
        out += "# TYPE heidi_control_request_duration_seconds histogram\n"
        var cumulative: UInt64 = 0
        for (bound, count) in zip(Self.bounds, snapshot.buckets) {
            cumulative += count
            out += "heidi_control_request_duration_seconds_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        out += "heidi_control_request_duration_seconds_bucket{le=\"+Inf\"} \(snapshot.count)\n"
        out += "heidi_control_request_duration_seconds_sum \(snapshot.sum)\n"
        out += "heidi_control_request_duration_seconds_count \(snapshot.count)\n"
        out += "# HELP heidi_control_connections_rejected_total Connections refused with 503 over the connection cap.\n"
        out += "# TYPE heidi_control_connections_rejected_total counter\n"
        out += "heidi_control_connections_rejected_total \(snapshot.rejected)\n"
        return out
    }
}
