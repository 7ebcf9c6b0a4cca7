import NIOConcurrencyHelpers

/// heidi-web's own counters, appended to heidid's `/metrics`.
public final class WebMetrics: Sendable {
    private let responses = NIOLockedValueBox<[Int: Int]>([:])

    public init() {}

    func count(status: Int) {
        responses.withLockedValue { $0[status, default: 0] += 1 }
    }

    func exposition(hub: EventHub, sessions: Int) -> String {
        var out =
            "# HELP heidi_web_responses_total Responses heidi-web sent, by HTTP status.\n# TYPE heidi_web_responses_total counter\n"
        for (status, count) in responses.withLockedValue({ $0 }).sorted(by: { $0.key < $1.key }) {
            out += "heidi_web_responses_total{status=\"\(status)\"} \(count)\n"
        }
        out +=
            "# HELP heidi_web_stream_clients Live SSE and WebSocket clients.\n# TYPE heidi_web_stream_clients gauge\n"
        out += "heidi_web_stream_clients \(hub.clientCount)\n"
        out +=
            "# HELP heidi_web_stream_clients_dropped_total Clients dropped for falling behind (they resume by seq).\n"
        out +=
            "# TYPE heidi_web_stream_clients_dropped_total counter\nheidi_web_stream_clients_dropped_total \(hub.droppedClients)\n"
        out +=
            "# HELP heidi_web_upstream_connected 1 while heidi-web follows heidid's journal.\n# TYPE heidi_web_upstream_connected gauge\n"
        out += "heidi_web_upstream_connected \(hub.connected ? 1 : 0)\n"
        out +=
            "# HELP heidi_web_journal_seq The last journal seq heidi-web has seen.\n# TYPE heidi_web_journal_seq gauge\n"
        out += "heidi_web_journal_seq \(hub.lastSeq)\n"
        out +=
            "# HELP heidi_web_sessions Logged-in browser sessions.\n# TYPE heidi_web_sessions gauge\nheidi_web_sessions \(sessions)\n"
        return out
    }
}
