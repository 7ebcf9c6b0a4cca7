import HeidiAPI
import HeidiCore
import HeidiTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What heidictl prints for people and scripts: control characters a stage wrote never reach the terminal raw,
/// `--json` prints an error object on every failure, `status --watch --json` prints every change once, and
/// `wait` says why the pipeline went to ERROR.
@Suite(.serialized)
struct HumanOutputTests {
    /// Control characters other than newline (tab allowed).
    static func controls(_ bytes: [UInt8]) -> [UInt8] {
        bytes.filter { ($0 < 0x20 && $0 != 0x0a && $0 != 0x09) || $0 == 0x7f }
    }

    @Test("a stage's CR, BS, BEL and escape remnants are shown, not sent raw, in logs, status, events and wait")
    func controlCharactersAreNeutralised() async throws {
        let s = try Session()
        defer { s.tearDown() }
        try s.writeConfig(
            TestConfig.shell(stages: [.generate: #"printf 'a\rb\bc\007d\033]0;set-title\007e\n'; exit 1"#])
        )
        try await s.startDaemon()
        #expect(try await s.ctl("start").status == 0)
        try await s.waitForStatus("ERROR") { $0.state == .error }

        let logs = try await s.ctl("logs", "generate")
        #expect(Self.controls(logs.stdoutBytes).isEmpty, "raw control characters in logs: \(logs.stdoutBytes)")
        #expect(logs.stdout.contains("a^Mb^Hc^Gd"), "\(logs.stdout)")
        let json = try await s.ctl("--json", "logs", "generate")
        #expect(json.stdout.contains(#"a\rb\bc\u0007d"#), "JSON output escapes them as before: \(json.stdout)")

        let status = try await s.ctl("status")
        #expect(status.status == 1)
        #expect(Self.controls(status.stdoutBytes).isEmpty && status.stdout.contains("^M"), "\(status.stdout)")
        let events = try await s.ctl("events")
        #expect(Self.controls(events.stdoutBytes).isEmpty, "\(events.stdout)")

        let wait = try await s.ctl("wait", "--state", "IDLE", "--timeout", "10s")
        #expect(wait.status == 1)
        #expect(Self.controls(Array(wait.stderr.utf8)).isEmpty, "\(wait.stderr)")
        #expect(
            wait.stderr.contains("ERROR: generate round 1: exit 1"),
            "names the stage and exit status: \(wait.stderr)"
        )
        #expect(wait.stderr.contains("last output:\n  a^Mb^Hc^Gd"), "and the excerpt: \(wait.stderr)")
    }

    @Test("--json prints an error object on stdout for every failure")
    func jsonErrorsOnEveryFailure() async throws {
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        defer { s.tearDown() }
        func errorCode(_ result: ProcessResult) -> String? {
            guard let value = try? StrictJSONParser.parse(result.stdoutBytes.dropLast()) else { return nil }
            return value["error"]?["code"]?.stringValue
        }
        let noDaemon = try await s.ctl("--json", "status")
        #expect(noDaemon.status == 3 && errorCode(noDaemon) == "not_running", "\(noDaemon)")
        let zeroRounds = try await s.ctl("--json", "start", "--rounds", "0")
        #expect(zeroRounds.status == 2 && errorCode(zeroRounds) == "usage", "\(zeroRounds)")
        let missing = try await s.ctl("--json", "journal", "verify", s.dir.file("missing.jsonl"))
        #expect(missing.status == 5 && errorCode(missing) == "unreadable", "\(missing)")

        try s.writeConfig(TestConfig.shell())
        try await s.startDaemon()
        let noStage = try await s.ctl("--json", "logs")
        #expect(noStage.status == 2 && errorCode(noStage) == "usage", "\(noStage)")
        let refused = try await s.ctl("--json", "reset")
        #expect(refused.status == 1 && errorCode(refused) == "invalid_state", "the daemon's own error body: \(refused)")
        for result in [noDaemon, zeroRounds, missing, noStage, refused] {
            #expect(result.stdoutBytes.filter { $0 == 0x0a }.count == 1, "exactly one document: \(result.stdout)")
        }
    }

    @Test("status --watch --json prints every change of a run once, in order")
    func watchPrintsEveryChangeOnce() async throws {
        let s = try Session()
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell())
        try await s.startDaemon()
        let watcher = try s.background("--json", "status", "--watch")
        defer { watcher.stop() }
        try await s.waitUntil("the first document") { watcher.stdoutBytes.contains(0x0a) ? true : nil }
        #expect(try await s.ctl("start", "--rounds", "1").status == 0)
        let events = try await s.waitForEvent("pipeline_complete")
        let lastSeq = UInt64(events.count)
        func documents() -> [StatusSnapshot] {
            watcher.stdoutBytes.split(separator: 0x0a).compactMap {
                try? JSONCoding.decode(StatusSnapshot.self, from: Array($0))
            }
        }
        try await s.waitUntil("the document of the completed run") {
            documents().last?.journal.seq == lastSeq ? true : nil
        }
        let docs = documents()
        var states: [PipelinePhase] = []
        for doc in docs where states.last != doc.state { states.append(doc.state) }
        #expect(states == [.idle, .collecting, .validating, .finalizing, .evaluating, .idle], "\(states)")
        let seqs = docs.map(\.journal.seq)
        #expect(seqs == seqs.sorted(), "in order: \(seqs)")
        #expect(zip(docs, docs.dropFirst()).allSatisfy { $0.watchKey != $1.watchKey }, "no change twice")
    }

    /// `heidictl status` with only global options skips ArgumentParser (`ControlTarget.plainStatus`); a trailing `--`
    /// sends the same request through ArgumentParser. Both must print and exit alike, in every state and failure.
    @Test("status's fast path prints and exits exactly as the parsed command does")
    func statusFastPathMatchesTheParsedCommand() async throws {
        let s = try Session()
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell(stages: [.generate: #"echo 'loss went to nan'; exit 3"#]))
        try await s.startDaemon()
        func same(_ fast: ProcessResult, _ parsed: ProcessResult, _ what: String) {
            // updated_at is the time of each answer; nothing else may differ.
            func stable(_ text: String) -> String {
                text.split(separator: ",", omittingEmptySubsequences: false).filter { !$0.hasPrefix(#""updated_at""#) }
                    .joined(separator: ",")
            }
            #expect(fast.status == parsed.status, "\(what): exit \(fast.status) vs \(parsed.status)")
            #expect(stable(fast.stdout) == stable(parsed.stdout), "\(what):\n\(fast.stdout)\nvs\n\(parsed.stdout)")
            #expect(fast.stderr == parsed.stderr, "\(what):\n\(fast.stderr)\nvs\n\(parsed.stderr)")
        }
        /// The fast path (`--socket S [--json] status`) and the parsed command (`status --socket S [--json] --`).
        func both(_ socket: String, json: Bool = false) async throws -> (ProcessResult, ProcessResult) {
            let options = ["--socket", socket] + (json ? ["--json"] : [])
            return (
                try await Processes.run([Binaries.heidictl] + options + ["status"]),
                try await Processes.run([Binaries.heidictl, "status"] + options + ["--"])
            )
        }
        var (fast, parsed) = try await both(s.socket)
        same(fast, parsed, "idle")
        #expect(try await s.ctl("start").status == 0)
        try await s.waitForStatus("ERROR") { $0.state == .error }
        (fast, parsed) = try await both(s.socket)
        #expect(fast.status == 1 && fast.stdout.contains("loss went to nan"), "\(fast)")
        same(fast, parsed, "error")
        (fast, parsed) = try await both(s.socket, json: true)
        #expect(fast.stdout.contains(#""state":"ERROR""#), "\(fast)")
        same(fast, parsed, "error, --json")
        for json in [false, true] {
            (fast, parsed) = try await both(s.dir.path + "/missing.sock", json: json)
            #expect(fast.status == 3, "\(fast)")
            same(fast, parsed, "no daemon, json \(json)")
        }
    }
}
