import Testing

@testable import HeidiCore
@testable import HeidiJournal

#if canImport(Glibc)
import Glibc
#endif

/// The negative corpus: every way of changing, removing or cutting records that the verifier must catch, each its
/// own test, on journals written by the real writer (with checkpoints signed by a real key).
@Suite("Journal tampering is detected")
struct JournalTamperTests {
    /// The byte range of `field`'s key and value in a line.
    static func span(of field: String, in line: [UInt8]) -> Range<Int>? {
        let keys = JournalLineEncoder.keys
        guard let index = keys.firstIndex(of: field),
            let start = line.firstRange(of: Array("\"\(field)\":".utf8))?.lowerBound
        else { return nil }
        let end =
            index + 1 < keys.count
            ? line.firstRange(of: Array(",\"\(keys[index + 1])\":".utf8))?.lowerBound : line.count - 1
        return end.map { start..<$0 }
    }

    @Test("a bit flip anywhere in a middle line's field is caught", arguments: JournalLineEncoder.keys)
    func bitFlipInEveryFieldPositionOfAMiddleLine(field: String) throws {
        let journal = try TestJournal.sealed(count: 8)
        let original = try journal.lines()
        let middle = original.count / 2
        let span = try #require(Self.span(of: field, in: original[middle]), "field \(field) in \(original[middle])")
        var flips = 0
        for position in span {
            for bit in 0..<8 {
                var lines = original
                lines[middle][position] ^= UInt8(1 << bit)
                try journal.replace(lines)
                // The chain alone catches it: no key, no anchors.
                let report = try journal.verify(keys: [])
                #expect(
                    report.verdict == .broken,
                    "flip of bit \(bit) at byte \(position) (\(field)) not caught: \(report.outcome)"
                )
                flips += 1
            }
        }
        #expect(flips == span.count * 8)
    }

    @Test func aFlipInTheNewlineOfAMiddleLineIsCaught() throws {
        let journal = try TestJournal.sealed(count: 6)
        var lines = try journal.lines()
        lines[3][lines[3].count - 1] ^= 0x01
        try journal.replace(lines)
        #expect(try journal.verify(keys: []).verdict == .broken)
    }

    @Test func aDeletedLineIsCaught() throws {
        let journal = try TestJournal.sealed(count: 8)
        var lines = try journal.lines()
        lines.remove(at: 4)
        try journal.replace(lines)
        #expect(brokenReason(try journal.verify()).contains("seq jumps"))
    }

    @Test func swappedLinesAreCaught() throws {
        let journal = try TestJournal.sealed(count: 8)
        var lines = try journal.lines()
        lines.swapAt(4, 5)
        try journal.replace(lines)
        #expect(brokenReason(try journal.verify()).contains("seq"))
    }

    @Test func aDuplicatedLineIsCaught() throws {
        let journal = try TestJournal.sealed(count: 8)
        var lines = try journal.lines()
        lines.insert(lines[4], at: 5)
        try journal.replace(lines)
        #expect(brokenReason(try journal.verify()).contains("repeats"))
    }

    @Test func anEditedLastLineIsCaughtByStateJsonAndJournaldAnchors() throws {
        let journal = try TestJournal.sealed(count: 8)
        try journal.event(.pipelineComplete, "run complete: 3 rounds")
        let last = try #require(journal.written.last)
        var lines = try journal.lines()
        lines[lines.count - 1] = edit(lines[lines.count - 1], "3 rounds", "4 rounds")
        try journal.replace(lines)
        // The chain cannot see it (nothing follows the last line); it is the unsealed tail.
        #expect(try journal.verify().verdict == .intactUnsealedTail)
        let anchor = JournalAnchor(seq: last.seq, hash: last.hash, source: "state.json")
        #expect(brokenReason(try journal.verify(anchors: [anchor])).contains("edited"))
        #expect(brokenReason(try journal.verify(journald: journal.journaldHeads)).contains("journald recorded"))
    }

    @Test func truncationAtALineBoundaryIsCaught() throws {
        let journal = try TestJournal.sealed(count: 8, every: 3)
        let head = try #require(journal.written.last)
        var lines = try journal.lines()
        lines.removeLast(4)  // takes the last checkpoint with it
        try journal.replace(lines)
        #expect(
            brokenReason(
                try journal.verify(anchors: [JournalAnchor(seq: head.seq, hash: head.hash, source: "state.json")])
            )
            .contains("cut off")
        )
        #expect(brokenReason(try journal.verify(journald: journal.journaldHeads)).contains("cut off"))
        // With the key alone: the newest remaining checkpoint is overdue once its interval has passed.
        journal.advance(Int64(journal.interval) + 120)
        #expect(brokenReason(try journal.verify()).contains("overdue"))
    }

    @Test func truncationMidLineIsATornTailUnlessAnAnchorSaysTheLineWasComplete() throws {
        let journal = try TestJournal.sealed(count: 8)
        let head = try #require(journal.written.last)
        let bytes = try FileSystem.read(journal.path)
        try writeBytes(journal.path, Array(bytes.dropLast(40)))
        #expect(try journal.verify().verdict == .tornTail)
        #expect(
            brokenReason(
                try journal.verify(anchors: [JournalAnchor(seq: head.seq, hash: head.hash, source: "state.json")])
            )
            .contains("cut off")
        )
    }

    @Test func truncationThenReExtensionWithoutTheKeyIsCaughtByCheckpoints() throws {
        let journal = try TestJournal.sealed(count: 12, every: 4)
        var lines = try journal.lines()
        // Cut before the last checkpoint, then forge lines with recomputed hashes: the forger has no key.
        let cut = lines.count - 6
        lines.removeLast(lines.count - cut)
        for index in 0..<8 {
            let forged = edit(lines[cut - 2], "\"seq\":\(cut - 1),", "\"seq\":\(cut + index + 1),")
            lines.append(edit(forged, #""message":"event"#, #""message":"forged"#))
        }
        rechain(&lines, from: cut - 1)
        try journal.replace(lines)
        // The forged lines are unsealed and the removed checkpoint leaves the newest one overdue.
        journal.advance(Int64(journal.interval) + 120)
        #expect(brokenReason(try journal.verify()).contains("overdue"))
    }

    @Test func reExtensionThatCopiesTheOldCheckpointFailsItsMAC() throws {
        let journal = try TestJournal.sealed(count: 8, every: 4)
        var lines = try journal.lines()
        let checkpointIndex = try #require(lines.lastIndex { $0.firstRange(of: Array("\"checkpoint\"".utf8)) != nil })
        lines[checkpointIndex - 1] = edit(lines[checkpointIndex - 1], #""message":"event"#, #""message":"EVENT"#)
        rechain(&lines, from: checkpointIndex - 1)
        try journal.replace(lines)
        let reason = brokenReason(try journal.verify())
        #expect(reason.contains("claims seq") || reason.contains("MAC"), "\(reason)")
    }

    @Test func reExtensionWithinTheUnsealedTailNeedsJournald() throws {
        let journal = try TestJournal.sealed(count: 8, every: 4)
        try journal.event(.stageStart, "train starting")
        try journal.event(.stageEnd, "train finished (exit 0)")
        var lines = try journal.lines()
        lines[lines.count - 2] = edit(lines[lines.count - 2], "train starting", "train skipped!")
        rechain(&lines, from: lines.count - 2)
        try journal.replace(lines)
        // Honest limit: lines after the last checkpoint are not sealed yet; journald's heads catch the rewrite.
        let keyOnly = try journal.verify()
        #expect(keyOnly.verdict == .intactUnsealedTail && keyOnly.unsealedLines == 2)
        #expect(brokenReason(try journal.verify(journald: journal.journaldHeads)).contains("journald recorded"))
    }

    @Test func aDeletedMiddleRotatedFileIsCaught() throws {
        let journal = try TestJournal.sealed(count: 40, rotateSize: 2000)
        let rotated = RotatedJournals.all(besides: journal.path)
        try #require(rotated.count >= 3, "\(rotated)")
        unlink(rotated[1])
        #expect(brokenReason(try journal.verify()).contains("is missing"))
    }

    @Test func aDeletedOldestRotatedFileIsCaughtUnlessRetentionRecordedIt() throws {
        let journal = try TestJournal.sealed(count: 40, rotateSize: 2000)
        let rotated = RotatedJournals.all(besides: journal.path)
        try #require(rotated.count >= 3)
        let plan = try JournalRetention.plan(journal: journal.path, keep: rotated.count - 1)
        try #require(plan.count == 1)
        unlink(plan[0].path)
        #expect(brokenReason(try journal.verify()).contains("a journal file was deleted"))
        // Pruning as heidid does it: the record first, then the file goes.
        try journal.event(.journalPruned, plan[0].record.message)
        let report = try journal.verify()
        #expect(report.outcome == .intact)
        #expect(report.notes.contains { $0.contains("removed by retention") }, "\(report.notes)")
    }

    @Test func aCheckpointReSignedWithAnotherKeyIsCaught() throws {
        let journal = try TestJournal.sealed(count: 8, every: 4)
        let intruder = JournalKey(secret: Array(repeating: 7, count: 32), path: "intruder")
        try journal.checkpoint(with: intruder)
        #expect(brokenReason(try journal.verify()).contains("key id mismatch"))
        // The intruder's MAC under the right key id does not verify either.
        var lines = try journal.lines()
        lines[lines.count - 1] = edit(lines[lines.count - 1], "key_id=\(intruder.id)", "key_id=\(journal.key.id)")
        try journal.replace(lines)
        #expect(brokenReason(try journal.verify()).contains("MAC does not verify"))
    }

    @Test func linesSplicedFromAnotherJournalAreCaught() throws {
        let journal = try TestJournal.sealed(count: 8)
        let other = try TestJournal.sealed(count: 8)
        var lines = try journal.lines()
        let foreign = try other.lines()
        lines.replaceSubrange(4..<6, with: foreign[4..<6])
        try journal.replace(lines)
        #expect(brokenReason(try journal.verify(keys: [])).contains("prev_hash"))
    }

    @Test func aJournalRewrittenWithoutTheKeyHasNoValidCheckpoint() throws {
        let journal = try TestJournal.sealed(count: 8, every: 0)
        #expect(brokenReason(try journal.verify()).contains("no checkpoint"))
        #expect(try journal.verify(keys: []).verdict == .intact, "without a key nothing about sealing is claimed")
    }
}
