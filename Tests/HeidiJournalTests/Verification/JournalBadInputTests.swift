import HeidiTestSupport
import Testing

@testable import HeidiCore
@testable import HeidiJournal

/// Files that are not (or no longer) journals get a clear verdict, never a crash or a hang.
@Suite("Journal verification of bad input")
struct JournalBadInputTests {
    func verify(_ bytes: [UInt8]) throws -> VerificationReport {
        let path = makeTemporaryDirectory() + "/events.jsonl"
        try writeBytes(path, bytes)
        return try JournalVerifier.verify(files: [path], options: VerificationOptions(complete: true))
    }

    /// A valid first line, to damage.
    func goodLine() throws -> [UInt8] {
        JournalLineEncoder.encode(
            EventDraft(.daemonStart, message: "heidid started"),
            seq: 1,
            timestamp: fixedTime,
            prevHash: SHA256.zeroHex
        )
    }

    @Test func aFileThatIsNotOurs() throws {
        #expect(brokenReason(try verify(Array("hello world\nsecond line\n".utf8))).contains("not a heidi journal line"))
        #expect(brokenReason(try verify(Array(#"{"level":"info","msg":"x"}"#.utf8) + [0x0a])).contains("event_version"))
        #expect(
            brokenReason(try verify(Array(#"{"event_version":"1","seq":1}"#.utf8) + [0x0a])).contains(
                #"event_version is not "2""#
            )
        )
    }

    @Test func anEmptyFileIsAnEmptyJournal() throws {
        let report = try verify([])
        #expect(report.verdict == .intact && report.lines == 0 && report.notes.contains("the journal is empty"))
        let keyed = try JournalVerifier.verify(
            files: [report.files[0]],
            options: VerificationOptions(
                keys: [JournalKey(secret: Array(repeating: 3, count: 32), path: "k")])
        )
        #expect(brokenReason(keyed).contains("no checkpoint"), "with a key, an empty journal fails closed")
    }

    @Test func crlfLineEnds() throws {
        var line = try goodLine()
        line.insert(0x0d, at: line.count - 1)
        #expect(brokenReason(try verify(line)).contains("CRLF"))
    }

    @Test func invalidUTF8() throws {
        var line = try goodLine()
        let at = (line.firstRange(of: Array("started".utf8))?.lowerBound ?? 0) + 2
        line.replaceSubrange(at...at, with: [0xC3, 0x28])  // a lead byte without its continuation
        #expect(brokenReason(try verify(line)).contains("invalid UTF-8"))
        // Outside a string too.
        #expect(brokenReason(try verify([0xFF, 0xFE, 0x0a])).contains("not a heidi journal line"))
    }

    @Test func aTenMegabyteLine() throws {
        let huge = [UInt8](repeating: UInt8(ascii: "a"), count: 10 << 20)
        #expect(brokenReason(try verify(huge + [0x0a])).contains("longer than 64 KiB"))
        #expect(brokenReason(try verify(huge)).contains("longer than 64 KiB"), "no newline at all")
        var line = try goodLine()
        line.insert(contentsOf: huge, at: 60)
        #expect(brokenReason(try verify(line)).contains("longer than 64 KiB"))
    }

    @Test func nulBytes() throws {
        #expect(brokenReason(try verify([UInt8](repeating: 0, count: 4096))).contains("NUL"))
        #expect(brokenReason(try verify([UInt8](repeating: 0, count: 4096) + [0x0a])).contains("NUL"))
        var line = try goodLine()
        line[line.firstRange(of: Array("heidid".utf8))?.lowerBound ?? 0] = 0
        #expect(brokenReason(try verify(line)).contains("NUL"))
        // After a complete line, zeros are what a crash can leave behind: a torn tail.
        #expect(try verify(try goodLine() + [UInt8](repeating: 0, count: 512)).verdict == .tornTail)
    }

    @Test func garbageAfterTheLastLineIsNotATornTail() throws {
        #expect(
            brokenReason(try verify(try goodLine() + Array("garbage".utf8))).contains("not the start of the next event")
        )
        #expect(try verify(try goodLine() + Array(#"{"event_version":"2","se"#.utf8)).verdict == .tornTail)
    }

    @Test func everyKindOfLineDefectIsNamed() throws {
        let line = try goodLine()
        let cases: [(String, String, String)] = [
            (#""seq":1"#, #""seq":01"#, "seq is not a positive integer"),
            (#""seq":1"#, #""seq": 1"#, "whitespace"),
            (#","ts":"#, #","tz":"#, #"key "tz" where "ts" belongs"#),
            ("Z\",\"run_id\"", "+01:00\",\"run_id\"", "ts is not a UTC timestamp"),
            (#""round":0"#, #""round":1.5"#, "expected key"),
            (#""level":"info""#, #""level":"loud""#, "level is not one of"),
            (#""counters_delta":{}"#, #""counters_delta":{"b":1,"a":2}"#, "keys are not sorted"),
            (#""counters_delta":{}"#, #""counters_delta":{"a":"1"}"#, "not a number"),
            (#""artifact_paths":[]"#, #""artifact_paths":[1]"#, "artifact_paths"),
            (#""prev_hash":"0"#, #""prev_hash":"A"#, "prev_hash is not 64 lowercase hex digits"),
            (#"started""#, #"st\q""#, "invalid escape"),
            (#""message":"#, #""extra":1,"message":"#, #"key "extra" where "message" belongs"#),
        ]
        for (old, new, expected) in cases {
            let damaged = edit(line, old, new)
            #expect(damaged != line, "the case \(old) → \(new) changed nothing")
            #expect(brokenReason(try verify(damaged)).contains(expected), "\(new)")
        }
    }

    @Test func timestampsAreWrittenExactlyAsTimestampFormatsThemAndReadBack() throws {
        var generator = SystemRandomNumberGenerator()
        let samples: [Int64] =
            [0, 1, 999_999, 951_782_400_000_000, 4_107_542_399_999_999, -1, -86_400_000_001]
            + (0..<2000).map { _ in Int64.random(in: -2_000_000_000_000_000...4_000_000_000_000_000, using: &generator)
            }
        for micros in samples {
            var out: [UInt8] = []
            JSONText.appendTimestamp(micros, to: &out)
            let text = String(decoding: out, as: UTF8.self)
            #expect(text == JSONText.quoted(Timestamp(microseconds: micros).description), "\(micros)")
            guard micros >= 0 else { continue }  // lines carry years 1970 and later
            let line = JournalLineEncoder.encode(
                EventDraft(.daemonStart, message: "m"),
                seq: 1,
                timestamp: Timestamp(microseconds: micros),
                prevHash: SHA256.zeroHex
            )
            #expect(try JournalLineScanner.scan(line).time == micros, "\(text)")
        }
    }
}
