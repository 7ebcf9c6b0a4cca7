import HeidiCore
import Testing

/// `--json` discipline (SPEC §6): stdout carries exactly one JSON document, or NDJSON for streams, and nothing
/// else, for every command, whether it succeeds or is refused.
@Suite(.serialized)
struct JSONOutputTests {
    /// Parses stdout as exactly one JSON value (a trailing newline is allowed).
    func document(_ result: ProcessResult, _ what: String) -> JSONValue? {
        var bytes = result.stdoutBytes
        if bytes.last == 0x0a { bytes.removeLast() }
        do { return try StrictJSONParser.parse(bytes) } catch {
            Issue.record("\(what): stdout is not one JSON document (\(error)): \(result)")
            return nil
        }
    }

    /// Parses stdout as NDJSON: every line one JSON object, at least `minimum` lines.
    func lines(_ result: ProcessResult, _ what: String, minimum: Int = 1) -> [JSONValue] {
        let parts = result.stdoutBytes.split(separator: 0x0a)
        #expect(parts.count >= minimum, "\(what): \(result)")
        return parts.compactMap { line in
            do { return try StrictJSONParser.parse(line) } catch {
                Issue.record("\(what): NDJSON line is not JSON (\(error)): \(String(decoding: line, as: UTF8.self))")
                return nil
            }
        }
    }

    @Test("every command prints one JSON document or NDJSON with --json")
    func everyCommand() async throws {
        let s = try Session()
        defer { s.tearDown() }
        let gate = s.dir.file("gate")
        try s.writeConfig(
            TestConfig.shell(
                mode: .collect,
                stages: [.generate: "echo hello; echo 'quote \" done'; " + TestConfig.waitFor(gate: gate)]
            )
        )
        try await s.startDaemon()

        #expect(document(try await s.ctl("--json", "status"), "status")?["state"]?.stringValue == "IDLE")
        #expect(document(try await s.ctl("--json", "version"), "version")?["heidictl"]?.stringValue != nil)
        let refusedReset = try await s.ctl("--json", "reset")
        #expect(refusedReset.status == 1)
        #expect(document(refusedReset, "refused reset")?["error"]?["code"]?.stringValue == "invalid_state")

        let start = try await s.ctl("--json", "start", "--rounds", "1")
        #expect(document(start, "start")?["accepted"] == .bool(true))
        try await s.waitForStatus("COLLECTING") { $0.state == .collecting }
        #expect(document(try await s.ctl("--json", "train-now"), "train-now")?["outcome"]?.stringValue == "queued")
        #expect(document(try await s.ctl("--json", "pause"), "pause")?["accepted"] == .bool(true))
        #expect(document(try await s.ctl("--json", "resume"), "resume")?["accepted"] == .bool(true))
        try await s.waitUntil("two lines of generate output") {
            try await s.ctl("logs", "generate").stdout.contains("done") ? true : nil
        }
        let logs = lines(try await s.ctl("--json", "logs", "generate"), "logs", minimum: 2)
        #expect(logs.first?["line"]?.stringValue == "hello")
        #expect(logs.dropFirst().first?["line"]?.stringValue == "quote \" done")

        #expect(document(try await s.ctl("--json", "stop"), "stop")?["accepted"] == .bool(true))
        let waited = try await s.ctl("--json", "wait", "--state", "IDLE", "--timeout", "10s")
        #expect(waited.status == 0 && document(waited, "wait")?["state"]?.stringValue == "IDLE")

        let events = lines(try await s.ctl("--json", "events"), "events", minimum: 5)
        #expect(events.first?["event_type"]?.stringValue == "daemon_start")
        let after = lines(try await s.ctl("--json", "events", "--after", "3"), "events --after")
        #expect(after.first?["seq"] == .number("4"))

        let verify = try await s.ctl("--json", "journal", "verify", s.journalPath)
        #expect(verify.status == 0 && document(verify, "journal verify")?["result"]?.stringValue == "intact")
        let timeout = try await s.ctl("--json", "wait", "--state", "ERROR", "--timeout", "0.3")
        #expect(timeout.status == 5 && document(timeout, "wait timeout")?["state"]?.stringValue == "IDLE")
    }

    @Test("errors without a daemon print an error object on stdout and say why on stderr")
    func noDaemon() async throws {
        let s = try Session()
        defer { s.tearDown() }
        let result = try await s.ctl("--json", "status")
        #expect(result.status == 3)
        #expect(
            document(result, "status without a daemon")?["error"]?["code"]?.stringValue == "not_running",
            "\(result)"
        )
        #expect(result.stderr.contains(s.socket))
    }
}
