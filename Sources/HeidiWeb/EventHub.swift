import HeidiCore
import NIOConcurrencyHelpers

/// What the hub fans out to its clients.
public enum HubItem: Sendable, Equatable {
    /// A journal line, byte for byte (without its `\n`), and its seq.
    case event(seq: UInt64, line: [UInt8])
    /// heidid's status object, when it changed.
    case status([UInt8])
    /// A line of the current stage's output and its number in the log (0-based, heidid's `from_line`).
    case log(stage: String, round: Int, number: Int, line: [UInt8])
}

/// The one upstream follow of heidid's journal per heidi-web, fanned out to every SSE and WebSocket client through a
/// bounded queue each. A client that falls `clientQueue` items behind is dropped (its stream ends) and resumes by
/// seq; it never grows memory or slows the others. Recent events are kept in a ring so that resuming clients are
/// served without asking heidid; older ones are read from heidid's journal.
public final class EventHub: Sendable {
    public let ringCapacity: Int
    public let clientQueue: Int
    public let logTailLines: Int
    let upstream: any HeidiUpstream
    private let state: NIOLockedValueBox<HubState>

    public init(upstream: any HeidiUpstream, ringCapacity: Int = 2048, clientQueue: Int = 1024, logTailLines: Int = 200) {
        self.upstream = upstream
        self.ringCapacity = ringCapacity
        self.clientQueue = clientQueue
        self.logTailLines = logTailLines
        state = NIOLockedValueBox(HubState())
    }

    // MARK: Clients

    /// A stream of items for one client: the last status, the journal lines after `after` (exactly once, in order,
    /// no gap), the log tail, then live items. The backlog is fed at the client's pace; once caught up, a client that
    /// falls `clientQueue` items behind is dropped (its stream ends, `droppedClients` counts it) and resumes by seq.
    public func subscribe(after: UInt64) -> AsyncStream<HubItem> {
        let (stream, continuation) = AsyncStream.makeStream(of: HubItem.self, bufferingPolicy: .bufferingOldest(clientQueue))
        let end = StreamEndFlag()
        let (id, backlog) = state.withLockedValue { hub -> (Int, Backlog) in
            hub.nextID += 1
            hub.clients[hub.nextID] = HubClient(continuation: continuation, lastSeq: after, end: end)
            let covered = after >= hub.lastSeq || (hub.ring.first.map { $0.seq <= after + 1 } ?? false)
            let events = covered ? hub.ring.filter { $0.seq > after }.map { HubItem.event(seq: $0.seq, line: $0.line) } : nil
            return (hub.nextID, Backlog(status: hub.status, events: events, logTail: hub.logTail))
        }
        // Not the hub's lock: publish yields under it (see StreamEndFlag); ended clients are pruned there.
        continuation.onTermination = { _ in end.set() }
        Task { await self.feed(id, after: after, backlog: backlog, to: continuation) }
        return stream
    }

    struct Backlog {
        var status: [UInt8]?
        /// The ring's events after the client's seq; nil when the ring does not reach back far enough.
        var events: [HubItem]?
        var logTail: [HubItem]
    }

    /// Hands a new client its backlog at its own pace, then the items that arrived meanwhile, until none are left
    /// and it is live.
    private func feed(_ id: Int, after: UInt64, backlog: Backlog, to continuation: AsyncStream<HubItem>.Continuation) async {
        var lastSeq = after
        var items = backlog.status.map { [HubItem.status($0)] } ?? []
        if let events = backlog.events {
            items += events
        } else {
            // Never a gap: when heidid cannot give the backlog, the client's stream ends and it retries by seq.
            guard let reply = try? await upstream.request("GET", "/api/v1/events?after=\(after)", body: [], actor: nil),
                  reply.status == 200 else { return drop(id) }
            var splitter = LineSplitter()
            items += splitter.feed(reply.body).compactMap { line in JournalSeq.parse(line).map { HubItem.event(seq: $0, line: line) } }
        }
        items += backlog.logTail
        while true {
            guard await Self.paced(items, to: continuation, lastSeq: &lastSeq) else { return drop(id) }
            let pending = state.withLockedValue { hub -> [HubItem]? in
                guard var client = hub.clients[id] else { return nil }
                let pending = client.pending
                client.pending = []
                if pending.isEmpty {
                    client.live = true
                    client.lastSeq = lastSeq
                }
                hub.clients[id] = client
                return pending
            }
            guard let pending, !pending.isEmpty else { return }
            items = pending
        }
    }

    /// Yields `items` (events only when newer than `lastSeq`), waiting while the client's queue is full; false when
    /// the client is gone or has not taken anything for `backlogPatience` seconds.
    static func paced(_ items: [HubItem], to continuation: AsyncStream<HubItem>.Continuation, lastSeq: inout UInt64) async -> Bool {
        for item in items {
            if case .event(let seq, _) = item {
                guard seq > lastSeq else { continue }
                lastSeq = seq
            }
            var waited: UInt64 = 0
            while true {
                switch continuation.yield(item) {
                case .enqueued: break
                case .terminated: return false
                case .dropped:
                    guard waited < backlogPatience else { return false }
                    try? await Task.sleep(nanoseconds: 5_000_000)
                    waited += 5_000_000
                    continue
                @unknown default: return false
                }
                break
            }
        }
        return true
    }

    /// How long a catching-up client may leave its queue full before it is dropped.
    static let backlogPatience: UInt64 = 10_000_000_000

    private func drop(_ id: Int) {
        state.withLockedValue { $0.drop(id) }?.finish()
    }

    /// Clients dropped for falling behind, since start.
    public var droppedClients: Int { state.withLockedValue { $0.dropped } }
    public var clientCount: Int { state.withLockedValue { $0.clients.values.filter { !$0.end.isSet }.count } }
    /// The last journal seq heidi-web has seen.
    public var lastSeq: UInt64 { state.withLockedValue { $0.lastSeq } }
    /// The last status heidid reported.
    public var status: [UInt8]? { state.withLockedValue { $0.status } }
    /// True while the upstream follow is connected.
    public var connected: Bool { state.withLockedValue { $0.connected } }

    // MARK: Publishing

    func publish(_ item: HubItem) {
        // Dropped clients' streams are finished after the lock is released: finishing runs their termination
        // handler, which takes the lock.
        let dropped: [AsyncStream<HubItem>.Continuation] = state.withLockedValue { hub in
            if hub.clients.values.contains(where: { $0.end.isSet }) { hub.clients = hub.clients.filter { !$0.value.end.isSet } }
            var dropped: [AsyncStream<HubItem>.Continuation] = []
            switch item {
            case .event(let seq, let line):
                guard seq > hub.lastSeq else { return [] }
                hub.lastSeq = seq
                hub.ring.append(RingEntry(seq: seq, line: line))
                if hub.ring.count > ringCapacity { hub.ring.removeFirst(hub.ring.count - ringCapacity) }
            case .status(let bytes):
                guard bytes != hub.status else { return [] }
                hub.status = bytes
            case .log:
                hub.logTail.append(item)
                if hub.logTail.count > logTailLines { hub.logTail.removeFirst(hub.logTail.count - logTailLines) }
            }
            for (id, var client) in hub.clients {
                if client.live {
                    if client.deliver(item) { hub.clients[id] = client } else { dropped += hub.drop(id).map { [$0] } ?? [] }
                } else if client.pending.count < clientQueue {
                    client.pending.append(item)
                    hub.clients[id] = client
                } else {
                    dropped += hub.drop(id).map { [$0] } ?? []
                }
            }
            return dropped
        }
        for continuation in dropped { continuation.finish() }
    }

    func setConnected(_ value: Bool) { state.withLockedValue { $0.connected = value } }

    func setLastSeqIfUnset(_ seq: UInt64) {
        state.withLockedValue { hub in if hub.lastSeq == 0 && hub.ring.isEmpty { hub.lastSeq = seq } }
    }

    func clearLogTail() { state.withLockedValue { $0.logTail = [] } }
}

struct RingEntry: Equatable {
    var seq: UInt64
    var line: [UInt8]
}

struct HubClient {
    var continuation: AsyncStream<HubItem>.Continuation
    /// The last journal seq handed to this client: events at or below it are never sent again.
    var lastSeq: UInt64
    /// Set when the client's stream has ended (its termination handler ran).
    let end: StreamEndFlag
    /// False while its backlog is fed; live items wait in `pending` (at most `clientQueue`).
    var live = false
    var pending: [HubItem] = []

    /// Hands `item` over (events only when newer than the last); false when the client's queue is full.
    mutating func deliver(_ item: HubItem) -> Bool {
        if case .event(let seq, _) = item, seq <= lastSeq { return true }
        if case .dropped = continuation.yield(item) { return false }
        if case .event(let seq, _) = item { lastSeq = seq }
        return true
    }
}

struct HubState {
    var clients: [Int: HubClient] = [:]
    var nextID = 0
    var ring: [RingEntry] = []
    var lastSeq: UInt64 = 0
    var status: [UInt8]?
    var logTail: [HubItem] = []
    var connected = false
    var dropped = 0

    /// Forgets a client that fell behind; the caller finishes the returned stream once the lock is released.
    mutating func drop(_ id: Int) -> AsyncStream<HubItem>.Continuation? {
        guard let client = clients.removeValue(forKey: id) else { return nil }
        dropped += 1
        return client.continuation
    }
}

/// The `seq` of a journal line: every line starts `{"event_version":"2","seq":N,` (SPEC §7), so it is found without
/// parsing the whole object.
public enum JournalSeq {
    public static func parse(_ line: [UInt8]) -> UInt64? {
        let key = Array("\"seq\":".utf8)
        let limit = min(line.count, 64)
        guard limit >= key.count else { return nil }
        for start in 0...(limit - key.count) where line[start..<(start + key.count)].elementsEqual(key) {
            var value: UInt64 = 0
            var index = start + key.count
            var digits = 0
            while index < line.count, line[index] >= 0x30, line[index] <= 0x39, digits < 19 {
                value = value * 10 + UInt64(line[index] - 0x30)
                index += 1
                digits += 1
            }
            return digits > 0 ? value : nil
        }
        return nil
    }
}

/// Splits a byte stream into `\n`-terminated lines (without the `\n`), keeping a partial line for the next chunk.
struct LineSplitter {
    private var partial: [UInt8] = []
    /// A line longer than this is cut (logs only; journal lines are at most 64 KiB).
    let maxLine: Int

    init(maxLine: Int = 128 * 1024) { self.maxLine = maxLine }

    mutating func feed(_ chunk: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var start = chunk.startIndex
        while let newline = chunk[start...].firstIndex(of: 0x0a) {
            partial += chunk[start..<newline]
            lines.append(Array(partial.prefix(maxLine)))
            partial.removeAll(keepingCapacity: true)
            start = newline + 1
        }
        partial += chunk[start...]
        if partial.count > maxLine * 2 { partial.removeFirst(partial.count - maxLine) }
        return lines
    }
}
