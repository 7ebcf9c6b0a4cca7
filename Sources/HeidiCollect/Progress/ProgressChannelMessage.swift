import HeidiCore

/// Builds the progress channel's datagrams: `STATUS=...`, and `X_HEIDI_COUNTERS` / `X_HEIDI_USAGE` carrying the
/// *increments* since the previous datagram (heidid adds them up), as JSON objects of integers with sorted keys.
struct ProgressChannelMessage {
    private var sentCounters: [String: Int] = [:]
    private var sentUsage: [String: Int] = [:]
    private var sentStatus: String?

    /// The next datagram, or nil when nothing changed since the last one. Marks its contents as sent.
    mutating func next(status: String, snapshot: LedgerSnapshot) -> String? {
        var lines: [String] = []
        if status != sentStatus {
            lines.append("STATUS=" + status)
            sentStatus = status
        }
        let counters = Self.increments(snapshot.counters, since: &sentCounters)
        if !counters.isEmpty { lines.append("X_HEIDI_COUNTERS=" + Self.json(counters)) }
        let usage = Self.increments(snapshot.usage, since: &sentUsage)
        if !usage.isEmpty { lines.append("X_HEIDI_USAGE=" + Self.json(usage)) }
        return lines.isEmpty ? nil : lines.joined(separator: "\n")
    }

    /// Non-zero differences `current - sent`, then `sent = current`.
    static func increments(_ current: [String: Int], since sent: inout [String: Int]) -> [String: Int] {
        var result: [String: Int] = [:]
        for (name, value) in current where value != sent[name, default: 0] {
            result[name] = value - sent[name, default: 0]
        }
        sent = current.merging(sent) { current, _ in current }
        return result
    }

    static func json(_ map: [String: Int]) -> String {
        var out: [UInt8] = []
        JSONText.appendNumberMap(map.mapValues(Double.init), to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
