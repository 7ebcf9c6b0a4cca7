import HeidiTestSupport
import Testing

@testable import HeidiCore
@testable import HeidiJournal

#if canImport(Glibc)
import Glibc
#endif

/// Keys, signed checkpoints, the sealing rules and their verdicts, `--since-checkpoint`, and retention records.
@Suite("Journal checkpoints and keys")
struct JournalCheckpointTests {
    @Test func theKeyIsCreatedOnFirstUseWithMode0600AndReused() throws {
        let path = makeTemporaryDirectory() + "/sub/journal.key"
        let old = umask(0)
        defer { umask(old) }
        let (key, created) = try JournalKey.loadOrCreate(path)
        #expect(created)
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(try FileSystem.read(path).count == 65)
        #expect(key.id.count == 16 && key.secret.count == 32)
        let (again, createdAgain) = try JournalKey.loadOrCreate(path)
        #expect(!createdAgain && again.id == key.id)
        chmod(path, 0o640)
        #expect(throws: JournalKeyError.self) { try JournalKey.loadOrCreate(path) }
        try writeBytes(path, Array("not a key\n".utf8))
        #expect { try JournalKey.load(path) } throws: { "\($0)".contains("not a heidi journal key") }
    }

    @Test func theCheckpointMessageIsStrict() {
        let good = Checkpoint(
            keyID: String(repeating: "a", count: 16),
            seq: 41,
            head: String(repeating: "b", count: 64),
            interval: 900,
            mac: String(repeating: "c", count: 64)
        )
        #expect(Checkpoint(message: Substring(good.message)) == good)
        for bad in [
            good.message + " ", " " + good.message, good.message.replacingOccurrences("seq=41", "seq=041"),
            good.message.replacingOccurrences("interval=900", "interval=0"),
            good.message.replacingOccurrences("aaaa", "AAAA"),
            good.message.replacingOccurrences(" mac=", "  mac="), "checkpoint v2" + good.message.dropFirst(13),
        ] {
            #expect(Checkpoint(message: Substring(bad)) == nil, "\(bad)")
        }
    }

    @Test func aSignedCheckpointCoversItsWholeLine() throws {
        let journal = try TestJournal.sealed(count: 4, every: 4)
        let report = try journal.verify()
        #expect(report.verdict == .intact && report.checkpoints == 2 && report.unsealedLines == 0)
        #expect(report.keyIDs == [journal.key.id] && report.lastCheckpoint?.seq == report.lastSeq)
        // Any field of the checkpoint line, not only its message, is under the MAC.
        var lines = try journal.lines()
        lines[lines.count - 1] = edit(lines[lines.count - 1], "\"level\":\"info\"", "\"level\":\"warn\"")
        try journal.replace(lines)
        #expect(brokenReason(try journal.verify()).contains("MAC does not verify"))
    }

    @Test func linesAfterTheLastCheckpointAreAnUnsealedTail() throws {
        let journal = try TestJournal.sealed(count: 4, every: 4)
        try journal.event()
        try journal.event()
        let report = try journal.verify()
        #expect(report.outcome == .intact && report.verdict == .intactUnsealedTail && report.unsealedLines == 2)
        // Without a key nothing is claimed about sealing.
        let unkeyed = try journal.verify(keys: [])
        #expect(unkeyed.verdict == .intact && unkeyed.unsealedLines == nil)
        #expect(unkeyed.notes.contains { $0.contains("not checked: no key") })
    }

    @Test func aGapInTheCheckpointCadenceIsAFailure() throws {
        let journal = try TestJournal.sealed(count: 2, every: 2)
        journal.advance(Int64(journal.interval) + 200)
        try journal.event()
        try journal.checkpoint()
        #expect(brokenReason(try journal.verify()).contains("checkpoints are missing"))
        // A restart in between explains the silence.
        let restarted = try TestJournal.sealed(count: 2, every: 2)
        restarted.advance(Int64(restarted.interval) + 200)
        try restarted.event(.daemonStart, "heidid started")
        try restarted.checkpoint()
        #expect(try restarted.verify().verdict == .intact)
    }

    @Test func anOverdueCheckpointIsAFailureUnlessTheTailIsTorn() throws {
        let journal = try TestJournal.sealed(count: 4, every: 4)
        try journal.event()
        let later = Timestamp(microseconds: journal.time.microseconds + Int64(journal.interval + 200) * 1_000_000)
        #expect(brokenReason(try journal.verify(now: later)).contains("overdue"))
        appendBytes(journal.path, Array(#"{"event_version":"2","seq":"#.utf8))
        #expect(try journal.verify(now: later).verdict == .tornTail)
    }

    @Test func aCleanStopEndsWithTheShutdownCheckpointAndDaemonStop() throws {
        let journal = try TestJournal.sealed(count: 3, every: 0)
        try journal.checkpoint()
        try journal.stop()
        let later = Timestamp(microseconds: journal.time.microseconds + 86_400_000_000)
        let report = try journal.verify(now: later)
        #expect(report.verdict == .intactUnsealedTail && report.unsealedLines == 1 && report.endsWithStop)
        // A daemon_stop that does not follow the shutdown checkpoint was forged after a cut.
        try journal.event(.daemonStop, "heidid stopping (SIGTERM)")
        #expect(brokenReason(try journal.verify(now: later)).contains("daemon_stop"))
    }

    @Test func sinceCheckpointStartsAtTheNewestValidCheckpoint() throws {
        let journal = try TestJournal.sealed(count: 40, every: 10, rotateSize: 4000)
        try journal.event()
        let report = try journal.verify(sinceCheckpoint: true)
        #expect(report.outcome == .intact && report.unsealedLines == 1)
        #expect(report.lines == 2 && report.firstSeq == report.lastCheckpoint?.seq, "\(report)")
        #expect(report.notes.contains { $0.contains("started at the checkpoint") })
        // Damage after that checkpoint is still found; its line number counts the lines before it.
        var lines = try journal.lines()
        lines[lines.count - 1] = edit(lines[lines.count - 1], "\"round\":1", "\"round\":-1")
        try journal.replace(lines)
        guard case .broken(_, let line, let reason) = try journal.verify(sinceCheckpoint: true).outcome else {
            Issue.record("not caught")
            return
        }
        #expect(line == lines.count && reason.contains("round"))
        // A checkpoint signed with another key is not a place to start from.
        let stranger = JournalKey(secret: Array(repeating: 1, count: 32), path: "other")
        #expect(
            try journal.verify(keys: [stranger], sinceCheckpoint: true).notes.contains {
                $0.contains("no checkpoint verifies")
            }
        )
    }

    @Test func journalsSignedWithSeveralKeysVerifyWithAllOfThem() throws {
        let journal = try TestJournal.sealed(count: 4, every: 4)
        let next = JournalKey(secret: Array(repeating: 9, count: 32), path: "next")
        try journal.event()
        try journal.checkpoint(with: next)
        #expect(try journal.verify(keys: [journal.key, next]).verdict == .intact)
        #expect(brokenReason(try journal.verify(keys: [journal.key])).contains("key id mismatch"))
    }

    @Test func retentionPlansTheOldestFilesWithTheirLastHash() throws {
        let journal = try TestJournal.sealed(count: 30, rotateSize: 2500)
        let rotated = RotatedJournals.all(besides: journal.path)
        try #require(rotated.count >= 3)
        #expect(try JournalRetention.plan(journal: journal.path, keep: 0).isEmpty, "0 keeps everything")
        let plan = try JournalRetention.plan(journal: journal.path, keep: 1)
        #expect(plan.map(\.path) == Array(rotated.dropLast()))
        let first = try #require(plan.first?.record)
        let firstLines = try lines(of: rotated[0])
        #expect(
            first.file == "events.000000000001.jsonl" && first.firstSeq == 1
                && first.lastSeq == UInt64(firstLines.count)
        )
        #expect(first.lastHash == SHA256.hex(try #require(firstLines.last)))
        #expect(first.sha256 == SHA256.hex(try FileSystem.read(rotated[0])))
        #expect(PruneRecord(message: Substring(first.message)) == first)
        // Prune both, each recorded first, as heidid does.
        for (path, record) in plan {
            try journal.event(.journalPruned, record.message)
            unlink(path)
        }
        let report = try journal.verify()
        #expect(report.outcome == .intact, "\(report.outcome)")
        #expect(report.firstSeq == (plan.last?.record.lastSeq ?? 0) + 1)
    }

    @Test func theJournalKeysOfTheConfigFile() throws {
        let directory = makeTemporaryDirectory()
        let path = directory + "/heidi.yaml"
        try writeFile(
            path,
            """
            paths: {state_dir: /srv/heidi}
            journal: {fsync: batch, batch_delay: 5ms, keep_rotated: 3, key_file: keys/journal.key, checkpoint_interval: 1h}
            """
        )
        let config = try ConfigLoader.load(path: path, environment: [:])
        #expect(config.journalFsync == .batch && config.journalBatchDelay == 0.005 && config.journalKeepRotated == 3)
        #expect(config.journalKeyPath == directory + "/keys/journal.key" && config.journalCheckpointInterval == 3600)
        try writeFile(path, "paths: {state_dir: /srv/heidi}\n")
        #expect(
            try ConfigLoader.load(path: path, environment: [:]).journalKeyPath == "/srv/heidi/journal.key",
            "the default"
        )
        for (yaml, key) in [
            ("journal: {key_fle: x}", "journal.key_fle"),
            ("journal: {checkpoint_interval: 0}", "journal.checkpoint_interval"),
            ("journal: {batch_delay: 2s}", "journal.batch_delay"),
            ("journal: {keep_rotated: -1}", "journal.keep_rotated"),
        ] {
            try writeFile(path, yaml + "\n")
            #expect { try ConfigLoader.load(path: path, environment: [:]) } throws: { error in
                "\(error)".contains(key) && "\(error)".contains(path)
            }
        }
    }
}

extension String {
    fileprivate func replacingOccurrences(_ old: String, _ new: String) -> String {
        split(separator: old, omittingEmptySubsequences: false).joined(separator: new)
    }
}
