import HeidiCore
import NIOCore

struct RingEntry: Equatable {
    var seq: UInt64
    var line: [UInt8]
}

/// One SSE or WebSocket client of the hub.
struct HubClient {
    var continuation: AsyncStream<HubItem>.Continuation
    /// The last journal seq handed to this client: events at or below it are never sent again.
    var lastSeq: UInt64
    /// Set when the client's stream has ended (its termination handler ran).
    let end: StreamEndFlag
    /// False while it catches up (`EventHub.feed`); its status and log items wait in `pending` meanwhile (at most
    /// the hub's `clientQueue`), its events it reads from the ring.
    var live = false
    var pending: [HubItem] = []

    /// Takes a published item: a live client gets it at once (events only when newer than its last), a catching-up
    /// one queues status and log items and leaves events to the ring. False when the client is too far behind
    /// (its stream's queue, or its pending items, are full): the hub drops it.
    mutating func take(_ item: HubItem, limit: Int) -> Bool {
        guard live else {
            if case .event = item { return true }
            guard pending.count < limit else { return false }
            pending.append(item)
            return true
        }
        if case .event(let seq, _) = item, seq <= lastSeq { return true }
        if case .dropped = continuation.yield(item) { return false }
        if case .event(let seq, _) = item { lastSeq = seq }
        return true
    }
}

/// What a catching-up client does next (`HubState.catchUp`).
enum CatchUp {
    /// It has ended.
    case gone
    /// It has the hub's last event and now gets live items.
    case live
    /// Hand these over, then ask again.
    case items([HubItem])
    /// The ring does not reach back to its seq: read heidid's journal.
    case behindRing
}

/// The hub's state, behind its lock. Clients are changed in place (their pending items are never copied).
struct HubState {
    var clients: [Int: HubClient] = [:]
    var nextID = 0
    var ring = CircularBuffer<RingEntry>()
    var lastSeq: UInt64 = 0
    var status: [UInt8]?
    var logTail: [HubItem] = []
    var connected = false
    var dropped = 0

    /// Forgets the clients whose stream has ended (their termination handler only flags them).
    mutating func pruneEnded() {
        if clients.values.contains(where: { $0.end.isSet }) { clients = clients.filter { !$0.value.end.isSet } }
    }

    /// Hands a published item to every client; returns the streams of those dropped for falling behind, which the
    /// caller finishes once the lock is released.
    mutating func handOut(_ item: HubItem, limit: Int) -> [AsyncStream<HubItem>.Continuation] {
        var behind: [Int] = []
        var index = clients.startIndex
        while index != clients.endIndex {
            if !clients.values[index].take(item, limit: limit) { behind.append(clients.keys[index]) }
            clients.formIndex(after: &index)
        }
        return behind.compactMap { drop($0) }
    }

    /// The next step of a client catching up after `seq`: its pending status and log items and the ring's next
    /// `batch` events, or live when it has the last event (from then on `handOut` yields to it directly).
    mutating func catchUp(_ id: Int, after seq: UInt64, batch: Int) -> CatchUp {
        guard let client = clients[id] else { return .gone }
        let pending = client.pending
        if !pending.isEmpty { clients[id]?.pending = [] }
        if seq >= lastSeq {
            guard pending.isEmpty else { return .items(pending) }
            clients[id]?.live = true
            clients[id]?.lastSeq = seq
            return .live
        }
        guard let first = ring.first, first.seq <= seq + 1 else {
            return pending.isEmpty ? .behindRing : .items(pending)
        }
        return .items(pending + ringEvents(after: seq, limit: batch))
    }

    /// After a client behind the ring was handed heidid's journal through `seq`: whether the ring now reaches back
    /// to it, and its pending items; nil when it has ended.
    mutating func backfilled(_ id: Int, through seq: UInt64) -> (reached: Bool, pending: [HubItem])? {
        guard let pending = clients[id]?.pending else { return nil }
        if !pending.isEmpty { clients[id]?.pending = [] }
        return (seq >= lastSeq || (ring.first.map { $0.seq <= seq + 1 } ?? false), pending)
    }

    /// At most `limit` events of the ring with seq above `seq`, in order.
    func ringEvents(after seq: UInt64, limit: Int) -> [HubItem] {
        var low = 0
        var high = ring.count
        while low < high {
            let middle = (low + high) / 2
            if ring[ring.index(ring.startIndex, offsetBy: middle)].seq <= seq {
                low = middle + 1
            } else {
                high = middle
            }
        }
        var events: [HubItem] = []
        events.reserveCapacity(min(limit, ring.count - low))
        var index = ring.index(ring.startIndex, offsetBy: low)
        while index != ring.endIndex && events.count < limit {
            events.append(.event(seq: ring[index].seq, line: ring[index].line))
            ring.formIndex(after: &index)
        }
        return events
    }

    /// Forgets a client that fell behind; the caller finishes the returned stream once the lock is released.
    mutating func drop(_ id: Int) -> AsyncStream<HubItem>.Continuation? {
        guard let client = clients.removeValue(forKey: id) else { return nil }
        dropped += 1
        return client.continuation
    }
}
