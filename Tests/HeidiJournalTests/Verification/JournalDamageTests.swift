import Testing

@testable import HeidiCore
@testable import HeidiJournal

#if canImport(Glibc)
import Glibc
#endif

/// What verification says about the line that was changed, and what heidid does with a damaged journal when it
/// starts: record the finding, keep the damaged bytes aside, and go on from the last trusted line, so the damage
/// stays on record and is never written over.
@Suite("Journal damage is named and never healed over")
struct JournalDamageTests {
    /// One byte changed in line 40 shows only at line 41 (its prev_hash): the verdict names line 40 as the first
    /// line that may be wrong, says that either it or line 41's prev_hash was changed, and does not count line 40
    /// as verified.
    @Test func aChangedLineIsNamedNotTheLineAfterIt() throws {
        let journal = try TestJournal()
        for index in 1...59 { try journal.event(.stageEnd, "event \(index)") }
        var lines = try journal.lines()
        lines[39] = edit(lines[39], "event 40", "event 04")
        try journal.replace(lines)
        let report = try journal.verify(keys: [])
        guard case .broken(_, let line, let reason) = report.outcome else {
            Issue.record("expected broken, got \(report.outcome)")
            return
        }
        #expect(line == 40, "\(reason)")
        #expect(reason.hasPrefix("line 40 (seq 40) was changed, or line 41's prev_hash was"), "\(reason)")
        #expect(report.lines == 39 && report.lastSeq == 39, "line 40 is not counted as verified: \(report.lines)")
        let trusted = try #require(report.trustedEnd)
        #expect(trusted.seq == 39 && trusted.hash == SHA256.hex(lines[38]))
        #expect(trusted.offset == Int64(lines[0..<39].reduce(0) { $0 + $1.count }))
    }

    /// The prev_hash mismatch across a rotation names the last line of the older file.
    @Test func aChangedLastLineOfARotatedFileIsNamedInItsFile() throws {
        let journal = try TestJournal(rotateSize: 2_000)
        for index in 1...20 { try journal.event(.stageEnd, "event \(index)") }
        let rotated = try #require(RotatedJournals.all(besides: journal.path).first)
        var lines = try HeidiJournalTests.lines(of: rotated)
        let last = lines.count - 1
        lines[last] = edit(lines[last], "\"message\":\"event", "\"message\":\"evEnt")
        try writeBytes(rotated, lines.flatMap { $0 })
        let report = try journal.verify(keys: [])
        guard case .broken(let file, let line, let reason) = report.outcome else {
            Issue.record("expected broken, got \(report.outcome)")
            return
        }
        #expect(file == rotated && line == lines.count, "\(file) \(line)")
        #expect(
            reason.hasPrefix(
                "the last line of \(rotated) (seq \(lines.count)) was changed, or line 1 of \(journal.files[1])'s prev_hash was"
            ),
            "\(reason)"
        )
    }

    /// The issue's scenario: the journal is cut back (seq 105 → 101) while state.json records 105. The start-up
    /// check finds it, moves nothing (nothing follows), and the caller's journal_damaged event keeps it on record:
    /// after the chain goes on past 105 again, verification still says damaged.
    @Test func aCutJournalIsRecordedAndStaysDamagedAfterTheChainGoesOn() throws {
        let journal = try TestJournal()
        for index in 1...105 { try journal.event(.stageEnd, "event \(index)") }
        let head = try #require(journal.written.last)
        let anchor = JournalAnchor(seq: head.seq, hash: head.hash, source: "state.json")
        let lines = try journal.lines()
        try journal.replace(Array(lines.prefix(101)))
        journal.writer.close()

        let check = try JournalStartupCheck.run(journal: journal.path, anchor: anchor, at: journal.time)
        let damage = try #require(check.found)
        #expect(
            damage.reason.contains("state.json records seq 105 but the journal ends at seq 101"),
            "\(damage.reason)"
        )
        #expect(damage.movedAside.isEmpty && damage.lastTrustedSeq == 101)
        #expect(
            damage.message.contains("nothing was moved aside") && damage.message.contains("goes on from seq 101"),
            "\(damage.message)"
        )

        let writer = try JournalWriter(path: journal.path, fsync: .never)
        #expect(writer.lastSeq == 101 && writer.repair == nil)
        try writer.append(EventDraft(.journalDamaged, level: .critical, message: damage.message), at: journal.time)
        for index in 0..<5 { try writer.append(EventDraft(.stageEnd, message: "again \(index)"), at: journal.time) }
        let newAnchor = JournalAnchor(seq: writer.lastSeq, hash: writer.headHash, source: "state.json")
        writer.close()

        let report = try JournalVerifier.verify(
            files: journal.files,
            options: VerificationOptions(anchors: [newAnchor], complete: true)
        )
        #expect(report.verdict == .damaged, "\(report.outcome)")
        #expect(
            report.damage.count == 1 && report.damage.first?.seq == 102
                && report.damage.first?.message == damage.message
        )
        // A second start finds nothing new, but still reports what is recorded.
        let again = try JournalStartupCheck.run(journal: journal.path, anchor: newAnchor, at: journal.time)
        #expect(again.found == nil && again.recorded.map(\.seq) == [102])
    }

    /// A line changed in the middle: the start-up check keeps the lines before the suspect one, moves the rest of
    /// the file aside byte for byte (its SHA-256 in the finding), and the writer goes on from the last trusted line.
    @Test func aJournalBrokenInTheMiddleKeepsItsTrustedLinesAndTheRestAside() throws {
        let journal = try TestJournal()
        for index in 1...30 { try journal.event(.stageEnd, "event \(index)") }
        var lines = try journal.lines()
        lines[19] = edit(lines[19], "event 20", "event 02")
        try journal.replace(lines)
        journal.writer.close()
        let original = lines.flatMap { $0 }
        let kept = lines[0..<19].reduce(0) { $0 + $1.count }

        let check = try JournalStartupCheck.run(journal: journal.path, anchor: nil, at: journal.time)
        let damage = try #require(check.found)
        #expect(damage.file == journal.path && damage.line == 20 && damage.lastTrustedSeq == 19)
        let moved = try #require(damage.movedAside.first)
        #expect(
            damage.movedAside.count == 1 && moved.offset == Int64(kept) && moved.bytes == Int64(original.count - kept)
        )
        #expect(
            try FileSystem.read(moved.keptAt) == Array(original[kept...]),
            "the damaged bytes are kept as they were"
        )
        #expect(moved.sha256 == SHA256.hex(original[kept...]) && damage.message.contains(moved.sha256))
        #expect(try FileSystem.read(journal.path) == Array(original[..<kept]), "the trusted lines stay")

        let writer = try JournalWriter(path: journal.path, fsync: .never)
        #expect(writer.lastSeq == 19 && writer.headHash == SHA256.hex(lines[18]))
        try writer.append(EventDraft(.journalDamaged, level: .critical, message: damage.message), at: journal.time)
        writer.close()
        #expect(
            try JournalVerifier.verify(files: journal.files, options: VerificationOptions(complete: true)).verdict
                == .damaged
        )
    }

    /// Garbage after the last line (not a torn write) used to stop heidid from starting; now it is moved aside and
    /// recorded. A torn last line is still the writer's to repair (journal_repaired), not damage.
    @Test func garbageAtTheEndIsMovedAsideButATornLineIsNotDamage() throws {
        let journal = try TestJournal()
        for index in 1...5 { try journal.event(.stageEnd, "event \(index)") }
        journal.writer.close()
        let clean = try FileSystem.read(journal.path)
        try writeBytes(journal.path, clean + Array(#"{"event_version":"2","seq":6,"ts":"2"#.utf8))
        #expect(try JournalStartupCheck.run(journal: journal.path, anchor: nil, at: journal.time).found == nil)
        #expect(try JournalWriter(path: journal.path, fsync: .never).repair != nil)

        try writeBytes(journal.path, clean + Array("garbage, not a journal line".utf8))
        let damage = try #require(
            try JournalStartupCheck.run(journal: journal.path, anchor: nil, at: journal.time).found
        )
        #expect(damage.reason.contains("the file ends in") && damage.movedAside.first?.bytes == 27, "\(damage)")
        #expect(try FileSystem.read(journal.path) == clean)
    }

    /// A damaged rotated file: it is cut back to its trusted lines, and every later file (the live one too) is
    /// moved aside whole; the writer goes on from the rotated file's last trusted line.
    @Test func damageInARotatedFileMovesEveryLaterFileAside() throws {
        let journal = try TestJournal(rotateSize: 2_000)
        for index in 1...40 { try journal.event(.stageEnd, "event \(index)") }
        journal.writer.close()
        let files = journal.files
        #expect(files.count >= 3)
        var lines = try HeidiJournalTests.lines(of: files[0])
        lines[2] = edit(lines[2], "\"message\":\"event", "\"message\":\"evEnt")
        try writeBytes(files[0], lines.flatMap { $0 })

        let damage = try #require(
            try JournalStartupCheck.run(journal: journal.path, anchor: nil, at: journal.time).found
        )
        #expect(
            damage.lastTrustedSeq == 2 && damage.movedAside.count == files.count,
            "\(damage.movedAside.map(\.file))"
        )
        #expect(damage.movedAside.dropFirst().allSatisfy { $0.offset == 0 } && !FileSystem.exists(journal.path))
        let writer = try JournalWriter(path: journal.path, fsync: .never)
        #expect(writer.lastSeq == 2)
        writer.close()
    }
}

extension JournalDamageTests {
    /// The finding is kept with the bytes it moved aside: a start that stops before recording its event (the
    /// journal cannot be written, a crash) leaves it for the next start, which records it instead of starting
    /// over an intact-looking journal.
    @Test func aFindingNotRecordedIsFoundAgainByTheNextStart() throws {
        let journal = try TestJournal()
        for index in 1...10 { try journal.event(.stageEnd, "event \(index)") }
        var lines = try journal.lines()
        lines[4] = edit(lines[4], "event 5", "event 6")
        try journal.replace(lines)
        journal.writer.close()
        let damage = try #require(
            try JournalStartupCheck.run(journal: journal.path, anchor: nil, at: journal.time).found
        )
        let directory = try #require(damage.directory)
        #expect(
            try FileSystem.read(directory + "/" + JournalStartupCheck.findingFile)
                == Array((damage.message + "\n").utf8)
        )

        // No journal_damaged was written: the journal itself now verifies, but the finding is still pending.
        let next = try JournalStartupCheck.run(journal: journal.path, anchor: nil, at: journal.time)
        #expect(next.found == nil && next.unrecorded == [damage.message])
        let writer = try JournalWriter(path: journal.path, fsync: .never)
        try writer.append(
            EventDraft(.journalDamaged, level: .critical, message: "recorded late: " + damage.message),
            at: journal.time
        )
        writer.close()
        let after = try JournalStartupCheck.run(journal: journal.path, anchor: nil, at: journal.time)
        #expect(after.unrecorded.isEmpty && after.recorded.count == 1, "recorded once, then no longer pending")
    }
}
