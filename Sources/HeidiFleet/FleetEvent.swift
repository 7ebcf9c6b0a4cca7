import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// A line of the fleet timeline: what the dashboard saw happen to a worker (joined, stale, back, gap, fork, action),
/// or one of a worker's own journal events as it arrived in the copy.
public struct FleetEvent: Sendable, Equatable, Codable {
    public var ts: String
    public var worker: String
    /// `joined`, `stale`, `back`, `gap`, `fork`, `malformed`, `action`, `relay_refused`; or a journal event's type.
    public var kind: String
    public var level: String
    public var message: String
    /// The journal seq, for a worker's journal event.
    public var seq: UInt64?

    public init(ts: String, worker: String, kind: String, level: String, message: String, seq: UInt64? = nil) {
        self.ts = ts
        self.worker = worker
        self.kind = kind
        self.level = level
        self.message = message
        self.seq = seq
    }

    /// A worker's journal line as a timeline entry (nil when it does not parse).
    static func fromJournal(_ line: ArraySlice<UInt8>, worker: String) -> FleetEvent? {
        guard let value = try? StrictJSONParser.parse(line.dropLast()) else { return nil }
        guard let ts = value["ts"]?.stringValue, let type = value["event_type"]?.stringValue else { return nil }
        return FleetEvent(
            ts: ts,
            worker: worker,
            kind: type,
            level: value["level"]?.stringValue ?? "info",
            message: value["message"]?.stringValue ?? "",
            seq: value["seq"]?.int64Value.map { UInt64($0) }
        )
    }
}

/// The dashboard's own record of the fleet, `<fleet dir>/fleet-events.jsonl` (one JSON object a line, appended and
/// synced): who joined, went stale, forked, and every action sent to a worker with who asked and from where.
final class FleetEventLog {
    let path: String
    private let fd: Int32

    init(path: String) throws(JournalCopyError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw JournalCopyError(path: path, reason: "cannot open: \(errnoDescription(errno))") }
    }

    deinit { close(fd) }

    func append(_ event: FleetEvent) {
        guard var bytes = try? JSONCoding.encode(event) else { return }
        bytes.append(0x0a)
        try? FileSystem.writeAll(fd: fd, bytes, path: path)
        _ = fdatasync(fd)
    }

    /// The last `limit` events recorded (for a restarted dashboard's timeline).
    static func tail(_ path: String, limit: Int) -> [FleetEvent] {
        guard let bytes = try? FileSystem.read(path) else { return [] }
        var events: [FleetEvent] = []
        for line in bytes.split(separator: 0x0a).suffix(limit) {
            if let event = try? JSONCoding.decode(FleetEvent.self, from: Array(line)) { events.append(event) }
        }
        return events
    }
}
