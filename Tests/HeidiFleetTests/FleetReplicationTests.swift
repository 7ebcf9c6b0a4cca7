import HeidiCore
import HeidiJournal
import HeidiTestSupport
import Testing

@testable import HeidiFleet

#if canImport(Glibc)
import Glibc
#endif

/// The chain check, the dashboard's copy and the worker's file reader, on real journals written by `JournalWriter`.
@Suite("Fleet replication: chain check, journal copy, journal source")
struct FleetReplicationTests {
    /// A journal of `count` events (rotated every `rotate` bytes when not 0); its files, oldest first, and its lines.
    func journal(_ count: Int, rotate: Int64 = 0) throws -> (path: String, lines: [[UInt8]]) {
        let path = Scratch.directory("fleet-worker") + "/events.jsonl"
        let writer = try JournalWriter(path: path, fsync: .never, rotateSize: rotate)
        for i in 0..<count {
            try writer.append(
                EventDraft(.stageEnd, message: "event \(i) \"quoted\" \\ ü", round: i % 7),
                at: Timestamp.now()
            )
        }
        writer.close()
        var lines: [[UInt8]] = []
        for file in RotatedJournals.all(besides: path) + [path] {
            lines += try FileSystem.read(file).split(separator: 0x0a).map { Array($0) + [0x0a] }
        }
        return (path, lines)
    }

    @Test(
        "a batch that follows the head is taken whole; resent lines are duplicates; a jump is a gap answered with the head"
    )
    func chainCheck() throws {
        let lines = try journal(6).lines
        let first = ChainCheck.check(lines[0..<3].flatMap { $0 }, after: .empty)
        #expect(first.stop == .none && first.appended == 3 && first.head.seq == 3)
        #expect(first.head.hash == SHA256.hex(lines[2]))
        let resent = ChainCheck.check(lines[1..<5].flatMap { $0 }, after: first.head)
        #expect(resent.duplicates == 2 && resent.appended == 2 && resent.head.seq == 5)
        #expect(Array(resent.append) == lines[3..<5].flatMap { $0 })
        let gap = ChainCheck.check(lines[4..<6].flatMap { $0 }, after: first.head)
        #expect(gap.stop == .gap(expected: 4, got: 5) && gap.appended == 0 && gap.head == first.head)
    }

    @Test("a line whose prev_hash is not the copy's head is a fork, and so is a different line at the head's seq")
    func fork() throws {
        let lines = try journal(3).lines
        let head = ChainCheck.check(lines[0], after: .empty).head
        var forged = lines[1]
        let hashStart = forged.count - 67
        forged[hashStart] = forged[hashStart] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
        guard case .fork(let seq, _, _) = ChainCheck.check(forged, after: head).stop else {
            Issue.record("no fork")
            return
        }
        #expect(seq == 2)
        let other = try journal(1).lines[0]  // another journal's seq 1
        guard case .fork = ChainCheck.check(other, after: head).stop else {
            Issue.record("a rewritten seq 1 passed as a duplicate")
            return
        }
        #expect(ChainCheck.check(Array(lines[1].dropLast()), after: head).stop != .none)  // no newline: malformed
    }

    @Test(
        "the copy is byte-identical to the worker's journal and verifies, after resends and a restart; a torn end is cut"
    )
    func copy() throws {
        let source = try journal(300)
        let directory = Scratch.directory("fleet-copy")
        var copy = try JournalCopy(directory: directory)
        var index = 0
        var generator = SystemRandomNumberGenerator()
        while index < source.lines.count {
            let size = Int.random(in: 1...40, using: &generator)
            let start = max(0, index - Int.random(in: 0...5, using: &generator))  // resend a few
            let end = min(source.lines.count, index + size)
            let verdict = try copy.append(source.lines[start..<end].flatMap { $0 })
            #expect(verdict.stop == .none)
            index = end
            if index > 150 && index < 190 { copy = try JournalCopy(directory: directory) }  // a dashboard restart
        }
        #expect(try FileSystem.read(copy.path) == source.lines.flatMap { $0 })
        #expect(try JournalVerifier.verify(files: [copy.path]).outcome == .intact)
        // A crash in the middle of an append leaves a torn line: reopening cuts it and keeps the head.
        let fd = open(copy.path, O_WRONLY | O_APPEND)
        _ = source.lines[0].withUnsafeBytes { write(fd, $0.baseAddress, 20) }
        close(fd)
        let reopened = try JournalCopy(directory: directory)
        #expect(reopened.head.seq == 300)
        #expect(try FileSystem.read(copy.path) == source.lines.flatMap { $0 })
    }

    @Test("a fork is kept across a restart and the copy takes nothing more")
    func forkPersists() throws {
        let lines = try journal(3).lines
        let directory = Scratch.directory("fleet-fork")
        let copy = try JournalCopy(directory: directory)
        _ = try copy.append(lines[0])
        _ = try copy.append(try journal(2).lines[1])  // seq 2 of another journal
        #expect(copy.fork != nil)
        let reopened = try JournalCopy(directory: directory)
        #expect(reopened.fork != nil)
        guard case .fork = try reopened.append(lines[1]).stop else {
            Issue.record("a forked copy took more")
            return
        }
        #expect(reopened.head.seq == 1)
    }

    @Test(
        "the source reads batches after any seq from the files, across rotated files, and rewinds",
        arguments: [0, 4096] as [Int64]
    )
    func source(rotate: Int64) throws {
        let worker = try journal(500, rotate: rotate)
        if rotate > 0 { #expect(RotatedJournals.all(besides: worker.path).count > 3) }
        let source = JournalSource(path: worker.path)
        var cursor: UInt64 = 0
        var copied: [UInt8] = []
        var rewound = false
        while let batch = source.read(after: cursor, maxBytes: 3000) {
            #expect(batch.bytes.count <= 3000 + JournalLineEncoder.maxLineBytes)
            copied += batch.bytes
            cursor = batch.lastSeq
            if cursor > 250 && !rewound {
                // The dashboard answered an older head: rewind from the files.
                rewound = true
                copied = Array(worker.lines[0..<100].flatMap { $0 })
                cursor = 100
            }
        }
        #expect(copied == worker.lines.flatMap { $0 })
        #expect(source.head()?.seq == 500)
    }
}
