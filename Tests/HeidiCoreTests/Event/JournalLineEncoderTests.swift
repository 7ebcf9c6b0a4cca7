import HeidiCore
import Testing

@Suite("Journal line bytes")
struct JournalEncodingTests {
    let ts = Timestamp(parsing: "2026-11-22T06:27:39.286123Z")!

    @Test func exactBytesAndKeyOrder() {
        let draft = EventDraft(
            .stageEnd,
            message: "generate finished (exit 0) in 4.2s",
            runID: "run_20261122_062700",
            round: 1,
            stage: "generate",
            usageDelta: ["wall_ms": 4213, "cpu_user_ms": 1210, "cpu_sys_ms": 40, "max_rss_kb": 51200]
        )
        let line = JournalLineEncoder.encode(draft, seq: 17, timestamp: ts, prevHash: String(repeating: "a", count: 64))
        let expected =
            #"{"event_version":"2","seq":17,"ts":"2026-11-22T06:27:39.286123Z","run_id":"run_20261122_062700","round":1,"stage":"generate","level":"info","event_type":"stage_end","message":"generate finished (exit 0) in 4.2s","counters_delta":{},"usage_delta":{"cpu_sys_ms":40,"cpu_user_ms":1210,"max_rss_kb":51200,"wall_ms":4213},"artifact_paths":[],"prev_hash":""#
            + String(repeating: "a", count: 64) + "\"}\n"
        #expect(String(decoding: line, as: UTF8.self) == expected)
    }

    @Test func nullsAndFractions() {
        let draft = EventDraft(
            .daemonStart,
            message: "m",
            countersDelta: ["loss": 0.42, "tiny": 1e-7, "nan": .nan, "inf": .infinity]
        )
        let text = String(
            decoding: JournalLineEncoder.encode(draft, seq: 1, timestamp: ts, prevHash: SHA256.zeroHex),
            as: UTF8.self
        )
        #expect(text.contains(#""run_id":null,"round":0,"stage":null"#))
        #expect(text.contains(#""counters_delta":{"loss":0.42,"tiny":1e-07}"#), "NaN/Inf dropped, keys sorted: \(text)")
    }

    @Test(arguments: [
        ("quote \" here", #"quote \" here"#),
        ("back\\slash", #"back\\slash"#),
        ("new\nline\ttab\rcr", #"new\nline\ttab\rcr"#),
        ("nul\u{0}bell\u{7}esc\u{1B}x del\u{7F}", #"nul\u0000bell\u0007esc\u001bx del\u007f"#),
        ("slash / stays", "slash / stays"),
        ("unicode é ✓ 🚀", "unicode é ✓ 🚀"),
        ("\u{8}\u{C}\u{1F}", #"\b\f\u001f"#),
    ])
    func escaping(_ message: String, _ escaped: String) throws {
        let line = JournalLineEncoder.encode(
            EventDraft(.daemonStart, message: message),
            seq: 1,
            timestamp: ts,
            prevHash: SHA256.zeroHex
        )
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains("\"message\":\"\(escaped)\""), "\(text)")
        // The line parses as strict JSON and round-trips the message (ESC is stripped by redaction).
        let value = try StrictJSONParser.parse(line.dropLast(), compact: true)
        #expect(value["message"]?.stringValue == Redactor.redact(message))
        #expect(!line.dropLast().contains(0x0a), "one line")
        #expect(line.allSatisfy { $0 >= 0x20 || $0 == 0x0a }, "no raw control bytes")
    }

    @Test func oversizedMessagesAreCutToFit() throws {
        let huge = String(repeating: "ü\"", count: 60_000)
        let line = JournalLineEncoder.encode(
            EventDraft(.stageEnd, message: huge),
            seq: 5,
            timestamp: ts,
            prevHash: SHA256.zeroHex
        )
        #expect(line.count <= JournalLineEncoder.maxLineBytes)
        let value = try StrictJSONParser.parse(line.dropLast(), compact: true)
        #expect(value["message"]?.stringValue?.hasSuffix("…[truncated]") == true)
    }

    @Test func strictParserRejectsWhatJournalsMustNotContain() {
        for bad in [
            #"{"a":1,}"#, #"{"a":01}"#, #"{"a":"x"} "#, #"{"a":1,"a":2}"#, "{\"a\":\"\u{1}\"}", #"{"a":"\ud800"}"#,
            #"{"a": 1}"#,
        ] {
            #expect(throws: JSONParseError.self, "\(bad)") {
                try StrictJSONParser.parse(Array(bad.utf8), compact: true)
            }
        }
    }
}

@Suite("Redaction")
struct RedactionTests {
    @Test(arguments: [
        ("token ghp_" + String(repeating: "a", count: 36), "[GITHUB_TOKEN]"),
        ("GLPAT-abcdefghijklmnopqrstuvwxyz", "[GITLAB_TOKEN]"),
        ("key sk-proj-ABCDEFGHIJKLMNOPQRSTUV123", "[OPENAI_KEY]"),
        ("aws AKIAABCDEFGHIJKLMNOP here", "[AWS_KEY]"),
        ("Authorization: bearer abcdefghijklmnopqrstuvwxyz012345", "[BEARER_TOKEN]"),
        ("-----BEGIN RSA PRIVATE KEY-----", "[PRIVATE_KEY]"),
        ("export OPENAI_API_KEY=abc123", "OPENAI_API_KEY=[REDACTED]"),
        ("hf_token: xyz", "hf_token: [REDACTED]"),
        ("DB_PASSWORD=hunter2", "DB_PASSWORD=[REDACTED]"),
    ])
    func secretsAreReplaced(_ input: String, _ marker: String) {
        let output = Redactor.redact(input)
        #expect(output.contains(marker), "\(output)")
        for secret in [
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUV123",
            "AKIAABCDEFGHIJKLMNOP",
            "abc123", "hunter2", " xyz",
        ] {
            #expect(!output.contains(secret), "leaked \(secret) in \(output)")
        }
    }

    @Test func ordinaryTextAndAnsi() {
        #expect(Redactor.redact("epoch 3/10 loss=0.42 max_tokens=256") == "epoch 3/10 loss=0.42 max_tokens=256")
        #expect(Redactor.redact("\u{1B}[31mred\u{1B}[0m text") == "red text")
    }

    @Test func privateKeyBlocksAcrossLines() {
        var redactor = LineRedactor()
        let block = [
            "-----BEGIN OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU=",
            "-----END OPENSSH PRIVATE KEY-----", "after",
        ]
        let out = block.map { redactor.redact($0) }
        #expect(out == ["[PRIVATE_KEY]", "[PRIVATE_KEY]", "[PRIVATE_KEY]", "after"])
    }

    @Test func journalMessagesAreRedacted() {
        let line = JournalLineEncoder.encode(
            EventDraft(.stageEnd, message: "leak sk-ABCDEFGHIJKLMNOPQRSTUVWX"),
            seq: 1,
            timestamp: Timestamp.now(),
            prevHash: SHA256.zeroHex
        )
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains("[OPENAI_KEY]") && !text.contains("ABCDEFGHIJKLMNOPQRSTUVWX"))
    }
}
