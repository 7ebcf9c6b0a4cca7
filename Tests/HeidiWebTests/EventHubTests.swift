import HeidiCore
import NIOConcurrencyHelpers
import Testing

@testable import HeidiWeb

/// A heidid stand-in: a journal of N lines, served whole (`events?after=`) and followed live by the hub.
final class FakeUpstream: HeidiUpstream {
    private let journal = NIOLockedValueBox<[[UInt8]]>([])
    private let follower = NIOLockedValueBox<AsyncStream<[UInt8]>.Continuation?>(nil)
    let requests = NIOLockedValueBox<[String]>([])
    /// Makes `events?after=` (without follow) fail, like heidid going away.
    let failWholeJournal = NIOLockedValueBox(false)

    static func line(_ seq: UInt64) -> [UInt8] {
        Array("{\"event_version\":\"2\",\"seq\":\(seq),\"event_type\":\"x\"}".utf8)
    }

    /// Appends lines up to `seq` and sends them to the live follower.
    func append(through seq: UInt64) {
        let lines: [[UInt8]] = journal.withLockedValue { journal in
            let start = UInt64(journal.count) + 1
            guard start <= seq else { return [] }
            let new = (start...seq).map(Self.line)
            journal += new
            return new
        }
        if let follower = follower.withLockedValue({ $0 }) { for line in lines { follower.yield(line + [0x0a]) } }
    }

    func request(
        _ method: String,
        _ target: String,
        body: [UInt8],
        actor: String?
    ) async throws(UpstreamError) -> UpstreamReply {
        requests.withLockedValue { $0.append(target) }
        if target.hasPrefix("/api/v1/status") {
            let seq = journal.withLockedValue { $0.count }
            return UpstreamReply(
                status: 200,
                headers: [],
                body: Array("{\"state\":\"IDLE\",\"journal\":{\"seq\":\(seq)}}".utf8)
            )
        }
        if failWholeJournal.withLockedValue({ $0 }) { throw UpstreamError(socketPath: "fake", reason: "too large") }
        let after = UInt64(target.split(separator: "=").last ?? "0") ?? 0
        let body: [UInt8] = journal.withLockedValue {
            $0.dropFirst(Int(after)).flatMap { line -> [UInt8] in line + [0x0a] }
        }
        return UpstreamReply(status: 200, headers: [], body: body)
    }

    func stream(_ target: String) async throws(UpstreamError) -> UpstreamStream {
        requests.withLockedValue { $0.append(target) }
        guard target.hasPrefix("/api/v1/events") else {
            throw UpstreamError(socketPath: "fake", reason: "no logs here")
        }
        let after = Int(target.split(separator: "=").dropFirst().first?.prefix { $0.isNumber } ?? "0") ?? 0
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        guard target.contains("follow=1") else {
            // The journal up to its head now, then the end (heidid's answer without follow).
            if failWholeJournal.withLockedValue({ $0 }) { throw UpstreamError(socketPath: "fake", reason: "too large") }
            for line in journal.withLockedValue({ Array($0.dropFirst(after)) }) { continuation.yield(line + [0x0a]) }
            continuation.finish()
            return UpstreamStream(status: 200, headers: [], chunks: stream)
        }
        journal.withLockedValue { journal in
            for line in journal.dropFirst(after) { continuation.yield(line + [0x0a]) }
            follower.withLockedValue { $0 = continuation }
        }
        return UpstreamStream(status: 200, headers: [], chunks: stream)
    }
}

@Suite("heidi-web event hub")
struct EventHubTests {
    /// The event seqs a client gets until it has `through`, or its stream ends.
    func collect(_ stream: AsyncStream<HubItem>, through last: UInt64) async -> [UInt64] {
        var seqs: [UInt64] = []
        for await item in stream {
            if case .event(let seq, _) = item {
                seqs.append(seq)
                if seq >= last { break }
            }
        }
        return seqs
    }

    func waitUntil(_ condition: () -> Bool) async {
        for _ in 0..<500 where !condition() { try? await Task.sleep(nanoseconds: 10_000_000) }
    }

    @Test("one upstream follow for many clients; each gets every seq after its own, exactly once, in order")
    func fanOut() async {
        let upstream = FakeUpstream()
        upstream.append(through: 5)
        let hub = EventHub(upstream: upstream, ringCapacity: 100, clientQueue: 1000)
        let running = Task { await hub.run() }
        defer { running.cancel() }
        await waitUntil { hub.lastSeq == 5 }
        let clients = [hub.subscribe(after: 0), hub.subscribe(after: 3), hub.subscribe(after: 5)]
        upstream.append(through: 50)
        var results: [[UInt64]] = []
        for client in clients { results.append(await collect(client, through: 50)) }
        #expect(results[0] == Array(1...50))
        #expect(results[1] == Array(4...50))
        #expect(results[2] == Array(6...50))
        let follows = upstream.requests.withLockedValue { $0.filter { $0.contains("follow=1") } }
        #expect(follows.count == 1, "\(follows)")
    }

    @Test("a client behind the ring is served from heidid's journal, then live, with no gap and no duplicate")
    func behindTheRing() async {
        let upstream = FakeUpstream()
        upstream.append(through: 300)
        let hub = EventHub(upstream: upstream, ringCapacity: 50, clientQueue: 1000)
        let running = Task { await hub.run() }
        defer { running.cancel() }
        await waitUntil { hub.lastSeq == 300 }
        let client = hub.subscribe(after: 10)
        upstream.append(through: 400)
        #expect(await collect(client, through: 400) == Array(11...400))
    }

    /// A client that reconnects whenever the hub drops it, like EventSource with Last-Event-ID.
    func resilientReader(_ hub: EventHub, through last: UInt64) async -> (seqs: [UInt64], connections: Int) {
        var seqs: [UInt64] = []
        var connections = 0
        while (seqs.last ?? 0) < last && connections < 1000 {
            connections += 1
            seqs += await collect(hub.subscribe(after: seqs.last ?? 0), through: last)
        }
        return (seqs, connections)
    }

    @Test(
        "a client that stops reading is dropped at its queue bound (memory bounded, others unaffected) and resumes by seq"
    )
    func slowClient() async {
        let upstream = FakeUpstream()
        let hub = EventHub(upstream: upstream, ringCapacity: 10_000, clientQueue: 100)
        let running = Task { await hub.run() }
        defer { running.cancel() }
        await waitUntil { hub.connected }
        let slow = hub.subscribe(after: 0)
        let reader = Task { await resilientReader(hub, through: 5000) }
        upstream.append(through: 5000)
        let read = await reader.value
        #expect(read.seqs == Array(1...5000), "exactly once over \(read.connections) connections")
        await waitUntil { hub.droppedClients >= 1 }
        #expect(hub.droppedClients >= 1)
        // What the slow client got before it was dropped is a gap-free prefix of at most its queue; then it ends.
        var got: [UInt64] = []
        for await item in slow { if case .event(let seq, _) = item { got.append(seq) } }
        #expect(got.count <= 100 && got == Array(1...UInt64(max(got.count, 1))).prefix(got.count).map { $0 })
        // Resuming from its last seq delivers the rest exactly once, at the client's pace.
        let resumed = hub.subscribe(after: got.last ?? 0)
        #expect(await collect(resumed, through: 5000) == Array((UInt64(got.count) + 1)...5000))
    }

    @Test(
        "a client dropped during a flood resumes by seq while the flood goes on and is not dropped again: every seq once",
        .timeLimit(.minutes(2))
    )
    func droppedClientResumesDuringFlood() async {
        let upstream = FakeUpstream()
        let hub = EventHub(upstream: upstream, ringCapacity: 2048, clientQueue: 256)
        let running = Task { await hub.run() }
        defer { running.cancel() }
        await waitUntil { hub.connected }
        let last: UInt64 = 30_000
        // The flood: 100 events every 4 ms or so (at most 25,000 a second), for over a second.
        let flood = Task {
            for step in stride(from: 100, through: last, by: 100) {
                upstream.append(through: step)
                try? await Task.sleep(nanoseconds: 4_000_000)
            }
        }
        // The slow client takes nothing until the hub has dropped it (its queue of 256 is full).
        let slow = hub.subscribe(after: 0)
        await waitUntil { hub.droppedClients == 1 }
        #expect(hub.droppedClients == 1, "the slow client was dropped")
        var seqs: [UInt64] = []
        for await item in slow { if case .event(let seq, _) = item { seqs.append(seq) } }
        // It resumes by its last seq thousands of events later, while the flood goes on: catching up it is behind
        // the ring (served from heidid's journal), then in it, while the hub publishes more; it reads as fast as
        // it can and must not be dropped for the hub's pace again.
        await waitUntil { hub.lastSeq >= 6000 }
        #expect(hub.lastSeq < last - 5000, "the flood goes on while the client resumes (at \(hub.lastSeq))")
        var connections = 1
        while (seqs.last ?? 0) < last && connections < 50 {
            connections += 1
            for await item in hub.subscribe(after: seqs.last ?? 0) {
                guard case .event(let seq, _) = item else { continue }
                seqs.append(seq)
                if seq >= last { break }
            }
        }
        await flood.value
        let wrong = zip(seqs, 1...last).first { $0.0 != $0.1 }
        #expect(
            seqs.count == Int(last) && wrong == nil,
            "every seq exactly once, in order: \(seqs.count) received over \(connections) connections, first wrong \(String(describing: wrong))"
        )
        #expect(
            connections == 2,
            "one drop, one resume: a client catching up is not dropped for the hub's pace (\(connections) connections)"
        )
        #expect(hub.droppedClients == 1)
    }

    @Test(
        "a client behind the ring whose backlog heidid cannot give is ended (it retries by seq), never sent on with a gap",
        .timeLimit(.minutes(1))
    )
    func backlogUnavailable() async {
        let upstream = FakeUpstream()
        upstream.append(through: 300)
        let hub = EventHub(upstream: upstream, ringCapacity: 50)
        let running = Task { await hub.run() }
        defer { running.cancel() }
        await waitUntil { hub.lastSeq == 300 }
        upstream.failWholeJournal.withLockedValue { $0 = true }
        var seqs: [UInt64] = []
        for await item in hub.subscribe(after: 10) { if case .event(let seq, _) = item { seqs.append(seq) } }
        #expect(seqs.isEmpty)
    }

    @Test("a status is sent to new clients first and again only when it changes")
    func statusFanOut() async {
        let hub = EventHub(upstream: FakeUpstream())
        hub.publish(.status(Array("{\"state\":\"IDLE\"}".utf8)))
        hub.publish(.status(Array("{\"state\":\"IDLE\"}".utf8)))
        let client = hub.subscribe(after: 0)
        hub.publish(.status(Array("{\"state\":\"COLLECTING\"}".utf8)))
        var statuses: [String] = []
        for await item in client {
            if case .status(let bytes) = item { statuses.append(String(decoding: bytes, as: UTF8.self)) }
            if statuses.count == 2 { break }
        }
        #expect(statuses == ["{\"state\":\"IDLE\"}", "{\"state\":\"COLLECTING\"}"])
    }

    @Test("the journal seq is read from the line's fixed prefix")
    func seqParsing() {
        #expect(JournalSeq.parse(FakeUpstream.line(1234)) == 1234)
        #expect(JournalSeq.parse(Array("{\"x\":1}".utf8)) == nil)
    }

    @Test("SSE and WebSocket framing: id is the seq; stage text stays a JSON string")
    func framing() {
        let event = String(decoding: LiveFormat.sse(.event(seq: 7, line: FakeUpstream.line(7))), as: UTF8.self)
        #expect(event.hasPrefix("id: 7\nevent: journal\ndata: {") && event.hasSuffix("\n\n"))
        let log = String(
            decoding: LiveFormat.webSocket(
                .log(stage: "train", round: 1, number: 41, line: Array("<script>alert(1)</script>\"".utf8))
            ),
            as: UTF8.self
        )
        #expect(
            log
                == "{\"type\":\"log\",\"stage\":\"train\",\"round\":1,\"n\":41,\"line\":\"<script>alert(1)</script>\\\"\"}"
        )
        let state = String(
            decoding: LiveFormat.webSocket(.status(Array("{\"state\":\"TRAINING\"}".utf8))),
            as: UTF8.self
        )
        #expect(state == "{\"type\":\"state_update\",\"state\":\"TRAINING\",\"status\":{\"state\":\"TRAINING\"}}")
    }
}
