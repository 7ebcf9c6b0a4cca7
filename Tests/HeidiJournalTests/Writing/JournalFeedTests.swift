import HeidiTestSupport
import Testing

@testable import HeidiCore
@testable import HeidiJournal

/// Plays the engine for a feed: owns the writer, pushes every new line into the live buffers (never waiting),
/// and subscribes a feed only when it has read everything in the files.
actor FakeJournalOwner {
    let writer: JournalWriter
    let limit: Int
    private(set) var buffers: [LiveLineBuffer] = []
    private(set) var maxQueued = 0
    private(set) var overflows = 0
    private var closed = false

    init(path: String, rotateSize: Int64, limit: Int) throws {
        writer = try JournalWriter(path: path, fsync: .never, rotateSize: rotateSize)
        self.limit = limit
    }

    func append(_ count: Int) throws {
        for index in 0..<count {
            let written = try writer.append(
                EventDraft(.stageEnd, message: "line \(index) " + String(repeating: "y", count: 100)),
                at: fixedTime
            )
            let before = buffers.count
            buffers.removeAll { !$0.push(written.line) }
            overflows += before - buffers.count
            maxQueued = max(maxQueued, buffers.map(\.queuedBytes).max() ?? 0)
        }
    }

    func subscribe(after seq: UInt64) -> JournalFeed.Subscription {
        guard !closed else { return .closed }
        guard writer.lastSeq <= seq else { return .behind }
        let buffer = LiveLineBuffer(limit: limit)
        buffers.append(buffer)
        return .live(buffer)
    }

    func finish() {
        closed = true
        for buffer in buffers { buffer.finish() }
    }
}

@Suite("Journal followers: bounded, never blocking, no gaps")
struct JournalFeedTests {
    /// The seqs of the lines in `chunks`.
    func seqs(_ chunks: [[UInt8]]) -> [UInt64] {
        chunks.flatMap { $0.split(separator: 0x0a).compactMap { JournalLineEncoder.seq(of: $0) } }
    }

    @Test func aLiveBufferThatOverflowsDropsItsLinesAndSaysBehind() async {
        let buffer = LiveLineBuffer(limit: 1000)
        var accepted = 0
        while buffer.push([UInt8](repeating: 0x61, count: 100)) { accepted += 1 }
        #expect(accepted == 10)
        #expect(buffer.queuedBytes == 0, "the queue is dropped at once")
        #expect(!buffer.push([0x61]), "and takes nothing more")
        #expect(await buffer.next() == .behind)
    }

    @Test func aWaitingFollowerGetsTheNextLineAndTheEnd() async {
        let buffer = LiveLineBuffer()
        async let first = buffer.next()
        try? await Task.sleep(nanoseconds: 20_000_000)
        #expect(buffer.push([0x62, 0x0a]))
        #expect(await first == .line([0x62, 0x0a]))
        buffer.finish()
        #expect(await buffer.next() == .finished)
        #expect(!buffer.push([0x63]))
    }

    @Test func aCancelledFollowerEndsItsBuffer() async {
        let buffer = LiveLineBuffer()
        let task = Task { await buffer.next() }
        try? await Task.sleep(nanoseconds: 20_000_000)
        task.cancel()
        #expect(await task.value == .finished)
        #expect(!buffer.push([0x64]), "the engine forgets it on its next line")
    }

    @Test("history from rotated files, then live lines, then back to the files after an overflow: every seq once")
    func aSlowFollowerMissesNothingAndNeverHoldsMoreThanItsLimit() async throws {
        let path = makeTemporaryDirectory() + "/events.jsonl"
        let owner = try FakeJournalOwner(path: path, rotateSize: 4000, limit: 2000)
        try await owner.append(120)
        let feed = JournalFeed(path: path, after: 30, endSeq: nil) { seq in await owner.subscribe(after: seq) }
        var received: [[UInt8]] = []
        // Catch up from the files (several rotated ones), then go live.
        while seqs(received).last != 120, let chunk = await feed.next() { received.append(chunk) }
        #expect(RotatedJournals.all(besides: path).count > 3)
        // The follower stops reading while 300 more lines are written: its buffer overflows, the owner never waits.
        let reader = Task { await feed.next() }  // takes one line, then the follower is "slow"
        while await owner.buffers.isEmpty { try await Task.sleep(nanoseconds: 5_000_000) }
        try await owner.append(300)
        if let chunk = await reader.value { received.append(chunk) }
        #expect(await owner.overflows >= 1)
        #expect(await owner.maxQueued <= 2000)
        while seqs(received).last != 420, let chunk = await feed.next() { received.append(chunk) }
        #expect(seqs(received) == Array(31...420), "every line once, in order")
        await owner.finish()
        #expect(await feed.next() == nil, "shutdown ends the stream")
    }

    @Test func aFeedWithoutFollowStopsAtTheSeqOfTheRequest() async throws {
        let path = makeTemporaryDirectory() + "/events.jsonl"
        let owner = try FakeJournalOwner(path: path, rotateSize: 3000, limit: 2000)
        try await owner.append(50)
        let feed = JournalFeed(path: path, after: 0, endSeq: 40) { _ in .closed }
        var received: [[UInt8]] = []
        while let chunk = await feed.next() { received.append(chunk) }
        #expect(seqs(received) == Array(1...40))
        // Byte for byte: what was streamed is exactly the journal's lines.
        let all = try RotatedJournals.all(besides: path).flatMap { try lines(of: $0) } + (try lines(of: path))
        #expect(received.flatMap { $0 } == all.prefix(40).flatMap { $0 })
    }
}
