import HeidiCore
import HeidiJournal
import HeidiTestSupport
import Testing

@Suite("Journal chain, restart, torn tail, verification")
struct JournalChainTests {
    func writeEvents(_ path: String, count: Int, fsync: FsyncPolicy = .never, rotate: Int64 = 0) throws -> JournalWriter
    {
        let writer = try JournalWriter(path: path, fsync: fsync, rotateSize: rotate)
        for i in 0..<count {
            try writer.append(
                EventDraft(.stageEnd, message: "event \(i) with \"quotes\" and \\ and \n", round: i),
                at: Timestamp.now()
            )
        }
        return writer
    }

    @Test func chainLinksEveryLineToTheHashOfThePreviousBytes() throws {
        let path = makeTemporaryDirectory() + "/events.jsonl"
        let writer = try writeEvents(path, count: 5, fsync: .always)
        writer.close()
        let all = try lines(of: path)
        #expect(all.count == 5)
        var previous = SHA256.zeroHex
        for (index, line) in all.enumerated() {
            let value = try StrictJSONParser.parse(line.dropLast(), compact: true)
            #expect(value["seq"]?.int64Value == Int64(index + 1))
            #expect(value["prev_hash"]?.stringValue == previous)
            previous = SHA256.hex(line)
        }
        #expect(writer.headHash == previous)
        let report = try JournalVerifier.verify(files: [path])
        #expect(report.outcome == .intact && report.lines == 5 && report.lastSeq == 5)
    }

    @Test func reopeningContinuesSeqAndChain() throws {
        let path = makeTemporaryDirectory() + "/events.jsonl"
        let first = try writeEvents(path, count: 3)
        let head = first.headHash
        first.close()
        let second = try JournalWriter(path: path, fsync: .never)
        #expect(second.lastSeq == 3 && second.headHash == head && second.repair == nil)
        let written = try second.append(EventDraft(.daemonStart, message: "again"), at: Timestamp.now())
        #expect(written.seq == 4 && written.prevHash == head)
        #expect(try JournalVerifier.verify(files: [path]).outcome == .intact)
    }

    @Test func tornTailIsCutAndReported() throws {
        let path = makeTemporaryDirectory() + "/events.jsonl"
        try writeEvents(path, count: 2).close()
        let torn = Array(#"{"event_version":"2","seq":3,"ts":"2026"#.utf8)
        appendBytes(path, torn)
        #expect(try JournalVerifier.verify(files: [path]).outcome == .tornTail(bytes: torn.count))
        let reopened = try JournalWriter(path: path, fsync: .never)
        #expect(reopened.repair == TailRepair(droppedBytes: torn.count, droppedSHA256: SHA256.hex(torn)))
        #expect(reopened.lastSeq == 2)
        try reopened.append(EventDraft(.journalRepaired, message: "repaired"), at: Timestamp.now())
        #expect(try JournalVerifier.verify(files: [path]).outcome == .intact)
    }

    @Test func aJournalWhoseLastLineIsGarbageIsNotSilentlyContinued() throws {
        let path = makeTemporaryDirectory() + "/events.jsonl"
        try writeEvents(path, count: 1).close()
        appendBytes(path, Array("not json\n".utf8))
        #expect(throws: JournalError.self) { try JournalWriter(path: path) }
    }

    @Test func rotationKeepsTheChainAcrossFiles() throws {
        let directory = makeTemporaryDirectory()
        let path = directory + "/events.jsonl"
        let writer = try writeEvents(path, count: 10, rotate: 700)
        writer.close()
        let rotated = RotatedJournals.all(besides: path)
        #expect(rotated.count >= 2, "\(rotated)")
        #expect(rotated.first?.hasSuffix("events.000000000001.jsonl") == true)
        let report = try JournalVerifier.verify(files: rotated + [path])
        #expect(report.outcome == .intact && report.lastSeq == 10)
        // Reopening after rotation continues the chain too.
        let reopened = try JournalWriter(path: path, rotateSize: 700)
        #expect(reopened.lastSeq == 10)
    }

    @Test func reopeningWhenOnlyTheRotatedFileHoldsLinesContinuesItsChain() throws {
        let path = makeTemporaryDirectory() + "/events.jsonl"
        let writer = try writeEvents(path, count: 3)
        let head = writer.headHash
        writer.close()
        // As a crash right after a rotation leaves it: the lines in the rotated file, an empty live file.
        let rotated = RotatedJournals.name(for: path, firstSeq: 1)
        try FileSystem.writeAtomically(
            rotated,
            try FileSystem.read(path) + Array(#"{"event_version":"2","seq":4"#.utf8)
        )
        try writeFile(path, "")
        let reopened = try JournalWriter(path: path)
        #expect(reopened.lastSeq == 3)
        #expect(reopened.headHash == head)
    }

    @Test func verifierNamesTheFirstBadLine() throws {
        let path = makeTemporaryDirectory() + "/events.jsonl"
        try writeEvents(path, count: 4).close()
        var all = try lines(of: path)
        // Edit a byte of line 2's message: the line still parses, but line 3's prev_hash no longer matches.
        let message = Array("\"message\":\"event".utf8)
        let at = try #require((0..<all[1].count).first { all[1][$0...].starts(with: message) })
        all[1][at + message.count - 5] = UInt8(ascii: "E")
        try writeFile(path, String(decoding: all.joined(), as: UTF8.self))
        guard case .broken(_, let line, let reason) = try JournalVerifier.verify(files: [path]).outcome else {
            Issue.record("edit not detected")
            return
        }
        // Line 3's prev_hash shows it, but line 2 is the first line that may be wrong (issue 14: it named line 3).
        #expect(line == 2)
        #expect(reason.hasPrefix("line 2 (seq 2) was changed, or line 3's prev_hash was"), "\(reason)")

        // A deleted line breaks seq continuity.
        try writeEvents(path + "2", count: 3).close()
        var three = try lines(of: path + "2")
        three.remove(at: 1)
        try writeFile(path + "2", String(decoding: three.joined(), as: UTF8.self))
        guard case .broken(_, 2, let why) = try JournalVerifier.verify(files: [path + "2"]).outcome else {
            Issue.record("deletion not detected")
            return
        }
        #expect(why.contains("seq jumps"))
    }

    @Test func anchorsCatchACutOffOrEditedTail() throws {
        let path = makeTemporaryDirectory() + "/events.jsonl"
        let writer = try writeEvents(path, count: 3)
        let anchor = JournalAnchor(seq: writer.lastSeq, hash: writer.headHash, source: "state.json")
        writer.close()
        var all = try lines(of: path)
        all.removeLast()
        try writeFile(path, String(decoding: all.joined(), as: UTF8.self))
        let report = try JournalVerifier.verify(files: [path], anchors: [anchor])
        guard case .broken(_, _, let reason) = report.outcome else {
            Issue.record("truncation not detected")
            return
        }
        #expect(reason.contains("cut off"))
    }

    @Test func stateDirectoryLockNamesTheHolder() throws {
        let directory = makeTemporaryDirectory()
        let lock = try StateDirectoryLock(path: directory + "/heidid.lock")
        // flock locks belong to the open file description: a second open in the same process conflicts too.
        #expect(throws: JournalError.self) { try StateDirectoryLock(path: directory + "/heidid.lock") }
        do { _ = try StateDirectoryLock(path: directory + "/heidid.lock") } catch {
            #expect("\(error)".contains("heidid pid"))
        }
        _ = lock
    }

    @Test func stateFileIsWrittenAtomicallyAndReadBack() throws {
        let path = makeTemporaryDirectory() + "/state.json"
        let status = StatusSnapshot(
            version: "0.1.0",
            pid: 1,
            startedAt: "t",
            state: .finalizing,
            mode: .collect,
            runID: "r",
            round: 2,
            rounds: 3,
            stage: "train",
            paused: false,
            pauseRequested: false,
            trainNowPending: false,
            awaitingTrainNow: false,
            stopping: false,
            child: nil,
            lastError: nil,
            journal: JournalHead(path: "/j", seq: 9, head: SHA256.zeroHex),
            supervision: "subreaper+pgroup",
            updatedAt: "t"
        )
        try StateFile(status: status, legacyStatus: "running", stageActive: true, runUnitTests: false).write(to: path)
        let text = String(decoding: try FileSystem.read(path), as: UTF8.self)
        for key in [
            "\"child\":null", "\"last_error\":null", "\"status\":\"running\"", "\"current_round\":2",
            "\"current_stage\":\"train\"",
        ] {
            #expect(text.contains(key), "\(key) in \(text)")
        }
        let read = try #require(try StateFile.read(from: path))
        #expect(read.status == status)
        #expect(read.pipelineState.phase == .finalizing && read.pipelineState.stageActive)
        #expect(!FileSystem.exists(path + ".tmp"))
    }
}
