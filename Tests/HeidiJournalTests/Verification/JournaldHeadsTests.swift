import Testing

@testable import HeidiCore
@testable import HeidiJournal

/// Parsing `journalctl -o json` output and cross-checking the journal with journald's copy of every head.
@Suite("journald heads")
struct JournaldHeadsTests {
    /// Lines as `journalctl -o json --output-fields=HEIDI_SEQ,HEIDI_HASH,_UID SYSLOG_IDENTIFIER=heidid` prints them
    /// (captured on a test journald; the cursor shortened).
    static func sample(seq: UInt64, hash: String, uid: String = "998", time: Int64 = 1_795_329_700_000_000) -> String {
        #"{"__CURSOR":"s=4c3f0b3e8a2b4ad6a2b1c8d1e0f9a8b7;i=\#(seq + 40);b=9d1f;m=\#(seq)9;t=\#(time);x=1f2e","#
            + #""__REALTIME_TIMESTAMP":"\#(time)","__MONOTONIC_TIMESTAMP":"\#(seq)912345","_BOOT_ID":"9d1f5c2a7b3e4f60a1b2c3d4e5f60718","#
            + #""_UID":"\#(uid)","HEIDI_SEQ":"\#(seq)","HEIDI_HASH":"\#(hash)"}"#
    }

    @Test func parsesCapturedJournalctlOutput() throws {
        let hash = String(repeating: "ab", count: 32)
        let output =
            [
                Self.sample(seq: 7, hash: hash),
                // The daemon's own log lines have no HEIDI_SEQ: not events.
                #"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1795329700000001","_UID":"998","MESSAGE":"heidid ready"}"#,
                // Another user's entry pretending to be heidid: ignored.
                Self.sample(seq: 8, hash: String(repeating: "cd", count: 32), uid: "1000"),
                // A malformed head: ignored.
                Self.sample(seq: 9, hash: "nothex"),
                // A binary field (journalctl prints byte arrays) does not disturb parsing.
                #"{"__CURSOR":"s=1;i=3","__REALTIME_TIMESTAMP":"1795329700000002","_UID":"998","MESSAGE":[104,105,10]}"#,
                Self.sample(seq: 6, hash: hash),
            ].joined(separator: "\n") + "\n"
        let heads = try JournaldHeads.parse(Array(output.utf8), trustedUID: 998)
        #expect(heads.entries.map(\.seq) == [6, 7], "sorted by seq")
        #expect(heads.entries.first?.hash.description == hash && heads.entries.first?.time == 1_795_329_700_000_000)
        #expect(heads.ignored == 2)
        #expect(
            try JournaldHeads.parse(Array(output.utf8)).entries.count == 3,
            "without an owner uid, every user's entry counts"
        )
        #expect(throws: JournaldError.self) { try JournaldHeads.parse(Array("-- No entries --\n".utf8)) }
    }

    @Test func theCrossCheckAcceptsAnIntactJournalAndNamesWhatDiffers() throws {
        let journal = try TestJournal.sealed(count: 6)
        let json = journal.written.map { Self.sample(seq: $0.seq, hash: $0.hash, time: $0.timestamp.microseconds) }
            .joined(separator: "\n")
        let heads = try JournaldHeads.parse(Array(json.utf8))
        let report = try journal.verify(journald: heads)
        #expect(
            report.outcome == .intact && report.journaldEntries == journal.written.count
                && report.linesNotInJournald == 0
        )

        // Entries of an older journal (before this one's first line) are not evidence against it.
        let older = Self.sample(seq: 3, hash: String(repeating: "0", count: 64), time: 1_000_000)
        let mixed = try JournaldHeads.parse(Array((json + "\n" + older).utf8))
        #expect(try journal.verify(journald: mixed).outcome == .intact)

        // No entry at all for this journal: fail closed.
        let none = try JournaldHeads.parse(Array(older.utf8))
        #expect(brokenReason(try journal.verify(journald: none)).contains("no HEIDI_SEQ entry"))

        // Lines written after journalctl ran are counted, not failed.
        try journal.event()
        let newer = try journal.verify(journald: heads)
        #expect(newer.outcome == .intact && newer.linesNotInJournald == 1)
    }
}
