import HeidiCore
import NIOConcurrencyHelpers
import NIOCore

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
/// bounded queue each. A live client that falls `clientQueue` items behind is dropped (its stream ends) and resumes
/// by seq; it never grows memory or slows the others. Recent events are kept in a ring, from which resuming clients
/// catch up at their own pace without asking heidid; older ones are read from heidid's journal.
public final class EventHub: Sendable {
    public let ringCapacity: Int
    public let clientQueue: Int
    public let logTailLines: Int
    let upstream: any HeidiUpstream
    private let state: NIOLockedValueBox<HubState>

    public init(upstream: any HeidiUpstream, ringCapacity: Int = 2048, clientQueue: Int = 1024, logTailLines: Int = 200)
    {
        self.upstream = upstream
        self.ringCapacity = ringCapacity
        self.clientQueue = clientQueue
        self.logTailLines = logTailLines
        state = NIOLockedValueBox(HubState())
    }

    // MARK: Clients

    /// A stream of items for one client: the last status and the log tail, the journal lines after `after`
    /// (exactly once, in order, no gap), then live items. A client catching up takes its events from the ring, or
    /// from heidid's journal while it is behind the ring, at its own pace, however fast the hub publishes meanwhile;
    /// once caught up it is live, and a live client that falls `clientQueue` items behind is dropped (its stream
    /// ends, `droppedClients` counts it) and resumes by seq.
    public func subscribe(after: UInt64) -> AsyncStream<HubItem> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: HubItem.self,
            bufferingPolicy: .bufferingOldest(clientQueue)
        )
        let end = StreamEndFlag()
        let (id, opening) = state.withLockedValue { hub -> (Int, [HubItem]) in
            hub.nextID += 1
            hub.clients[hub.nextID] = HubClient(continuation: continuation, lastSeq: after, end: end)
            return (hub.nextID, (hub.status.map { [HubItem.status($0)] } ?? []) + hub.logTail)
        }
        // Not the hub's lock: publish yields under it (see StreamEndFlag); ended clients are pruned there.
        continuation.onTermination = { _ in end.set() }
        Task { await self.feed(id, after: after, opening: opening, to: continuation) }
        return stream
    }

    /// Events a catching-up client takes from the ring per turn of the hub's lock.
    static let catchUpBatch = 256

    /// Hands a new client its status and log tail, then the events after `after` from the ring (or heidid's
    /// journal) and the status and log items that arrived meanwhile, at its own pace, until it has the hub's last
    /// event and is live. The hub's live events are not queued for a client catching up (it reads them from the
    /// ring), so one that reads slower than the hub publishes is never dropped for that: it stays behind, reading
    /// by seq, with nothing queued but its own stream's buffer.
    private func feed(
        _ id: Int,
        after: UInt64,
        opening: [HubItem],
        to continuation: AsyncStream<HubItem>.Continuation
    ) async {
        var lastSeq = after
        var items = opening
        while true {
            guard await Self.paced(items, to: continuation, lastSeq: &lastSeq) else { return drop(id) }
            switch state.withLockedValue({ $0.catchUp(id, after: lastSeq, batch: Self.catchUpBatch) }) {
            case .gone, .live:
                return
            case .items(let next):
                items = next
            case .behindRing:
                // Never a gap: when heidid cannot give the backlog, the client's stream ends and it retries by seq.
                guard await backfill(id, lastSeq: &lastSeq, to: continuation) else { return drop(id) }
                items = []
            }
        }
    }

    /// Streams heidid's journal after `lastSeq` to a client behind the ring, at the client's pace, until the ring
    /// reaches back to the client (the rest comes from the ring) or heidid's answer ends; the status and log items
    /// that arrived meanwhile go along. False when heidid cannot answer, its answer brought nothing new, or the
    /// client is gone.
    private func backfill(
        _ id: Int,
        lastSeq: inout UInt64,
        to continuation: AsyncStream<HubItem>.Continuation
    ) async -> Bool {
        let start = lastSeq
        guard let opened = try? await upstream.stream("/api/v1/events?after=\(start)"), opened.status == 200 else {
            return false
        }
        var splitter = LineSplitter()
        for await chunk in opened.chunks {
            let events = splitter.feed(chunk).compactMap { line in
                JournalSeq.parse(line).map { HubItem.event(seq: $0, line: line) }
            }
            guard await Self.paced(events, to: continuation, lastSeq: &lastSeq) else { return false }
            let seq = lastSeq
            guard let (reached, pending) = state.withLockedValue({ $0.backfilled(id, through: seq) }) else {
                return false
            }
            guard await Self.paced(pending, to: continuation, lastSeq: &lastSeq) else { return false }
            if reached { break }
        }
        return lastSeq > start
    }

    /// Yields `items` (events only when newer than `lastSeq`), waiting while the client's queue is full; false when
    /// the client is gone or has not taken anything for `backlogPatience` seconds.
    static func paced(
        _ items: [HubItem],
        to continuation: AsyncStream<HubItem>.Continuation,
        lastSeq: inout UInt64
    ) async -> Bool {
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
                    await LoopSleep.sleep(nanoseconds: 5_000_000)
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
        // Dropped clients' streams are finished after the lock is released (finishing runs their termination
        // handler).
        let dropped: [AsyncStream<HubItem>.Continuation] = state.withLockedValue { hub in
            hub.pruneEnded()
            switch item {
            case .event(let seq, let line):
                guard seq > hub.lastSeq else { return [] }
                hub.lastSeq = seq
                hub.ring.append(RingEntry(seq: seq, line: line))
                while hub.ring.count > ringCapacity { hub.ring.removeFirst() }
            case .status(let bytes):
                guard bytes != hub.status else { return [] }
                hub.status = bytes
            case .log:
                hub.logTail.append(item)
                if hub.logTail.count > logTailLines { hub.logTail.removeFirst(hub.logTail.count - logTailLines) }
            }
            return hub.handOut(item, limit: clientQueue)
        }
        for continuation in dropped { continuation.finish() }
    }

    func setConnected(_ value: Bool) { state.withLockedValue { $0.connected = value } }

    func setLastSeqIfUnset(_ seq: UInt64) {
        state.withLockedValue { hub in if hub.lastSeq == 0 && hub.ring.isEmpty { hub.lastSeq = seq } }
    }

    func clearLogTail() { state.withLockedValue { $0.logTail = [] } }
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
