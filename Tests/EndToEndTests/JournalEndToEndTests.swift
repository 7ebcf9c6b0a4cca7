import HeidiCore
import HeidiJournal
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The journal with the real heidid and heidictl: disk full on a real (tiny) file system, signed checkpoints
/// written when idle and verified with the configured key, retention, a stalled follower, and bad input.
@Suite(.serialized)
struct JournalEndToEndTests {
    /// A config whose state directory is known to heidictl too (for `journal verify` without FILES).
    static func config(_ s: Session, journal: String) -> String {
        TestConfig.shell().split(separator: "paths:\n", omittingEmptySubsequences: false)
            .joined(separator: "paths:\n  state_dir: \(s.stateDir)\n") + "journal: {\(journal)}\n"
    }

    @Test("disk full: no half line, no new stage, 503 for actions, last_error set; it recovers when space returns")
    func diskFullIsReportedAndRecovers() async throws {
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        defer { s.tearDown() }
        // Rotating at 1 KiB makes the journal need a fresh page soon, so it fails as well as state.json.
        try s.writeConfig(Self.config(s, journal: "fsync: always, rotate_size: 1KiB"))
        #expect(mkdir(s.stateDir, 0o750) == 0)
        let mounted = try await Processes.run([
            try requireTool("mount"), "-t", "tmpfs", "-o", "size=256k", "tmpfs", s.stateDir,
        ])
        guard mounted.status == 0 else {
            throw HarnessError(
                "cannot mount a tmpfs on \(s.stateDir) (this test needs root to fill a real file system): \(mounted)"
            )
        }
        defer { if let umount = try? requireTool("umount") { Processes.cleanUp([umount, "-l", s.stateDir]) } }
        try await s.startDaemon()
        let filler = s.stateDir + "/filler"
        let dd = try requireTool("dd")
        _ = try await Processes.run([dd, "if=/dev/zero", "of=\(filler)", "bs=4096"])
        _ = try await Processes.run([dd, "if=/dev/zero", "of=\(filler)", "bs=1", "oflag=append", "conv=notrunc"])

        let start = try await s.ctl("start", "--mode", "full", "--rounds", "20")
        #expect(start.status == 5 && start.stderr.contains("the journal cannot be written"), "\(start)")
        let failed = try await s.status()
        #expect(failed.state == .error, "no further stage started")
        #expect(
            failed.lastError?.message.contains("No space left on device") == true,
            "\(String(describing: failed.lastError))"
        )
        let again = try await s.ctl("start")
        #expect(again.status == 5 && again.stderr.contains("cannot start"), "\(again)")
        #expect(s.daemon?.stderrText.contains("journal write failed") == true)
        let verify = try await s.ctl("journal", "verify", s.journalPath)
        #expect(verify.status == 0, "only whole lines are in the file: \(verify)")

        #expect(unlink(filler) == 0)
        let recovered = try await s.waitUntil("a journal_recovered event", timeout: 15) { () throws -> JournalLine? in
            try s.wholeJournal().of("journal_recovered").first
        }
        #expect(recovered.message.contains("could not be recorded"), "\(recovered.message)")
        try await s.waitForStatus("state.json to work again") { $0.lastError?.message.contains("state.json") != true }
        #expect(try await s.ctl("reset").status == 0)
        #expect(try await s.ctl("start", "--mode", "full", "--rounds", "1").status == 0)
        try await s.waitForStatus("the run to complete") { $0.state == .idle && $0.runID != failed.runID }
        let after = try await s.ctl("--config", try #require(s.configPath), "--json", "journal", "verify")
        #expect(after.status == 0 && after.stdout.contains(#""result":"intact""#), "\(after)")
    }

    @Test("checkpoints are written when idle, signed with the key created on first use, and verify")
    func idleCheckpointsVerifyWithTheConfiguredKey() async throws {
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        defer { s.tearDown() }
        try s.writeConfig(Self.config(s, journal: "checkpoint_interval: 1s"))
        try await s.startDaemon()
        let key = s.stateDir + "/journal.key"
        var st = stat()
        #expect(stat(key, &st) == 0 && st.st_mode & 0o777 == 0o600)
        // Idle: nothing happens but the timer.
        try await s.waitUntil("three checkpoints") { try s.events().of("checkpoint").count >= 3 ? true : nil }
        let verify = try await s.ctl("--config", try #require(s.configPath), "--json", "journal", "verify")
        #expect(
            verify.status == 0 && verify.stdout.contains(#""keys":["#) && !verify.stdout.contains(#""keys":[]"#),
            "\(verify)"
        )
        let fast = try await s.ctl("journal", "verify", "--key", key, "--since-checkpoint", s.journalPath)
        #expect(fast.status == 0 && fast.stdout.contains("started at the checkpoint"), "\(fast)")
        #expect(try await s.ctl("journal", "verify", "--since-checkpoint", s.journalPath).status == 2, "needs a key")

        // journald's copy of the heads (as journalctl -o json prints them) agrees; an edit is caught.
        #expect(try await s.stopDaemon() == 0)
        let lines = try s.events()
        #expect(Array(lines.suffix(2).map(\.type)) == ["checkpoint", "daemon_stop"])
        let now = Timestamp.now().microseconds
        var heads: [String] = []
        for line in lines {
            let hash = try await s.sha256sum(line.bytes)
            heads.append(
                #"{"__REALTIME_TIMESTAMP":"\#(now)","_UID":"\#(getuid())","HEIDI_SEQ":"\#(line.seq)","HEIDI_HASH":"\#(hash)"}"#
            )
        }
        let json = try s.dir.write("journald.json", heads.joined(separator: "\n") + "\n")
        let crossed = try await s.ctl("journal", "verify", "--key", key, "--journald-json", json, s.journalPath)
        #expect(crossed.status == 0 && crossed.stdout.contains("\(lines.count) heads compared"), "\(crossed)")
        var bytes = try s.journalBytes()
        let at = try #require(bytes.lastIndex(of: UInt8(ascii: "S")))  // in "SIGTERM" of daemon_stop
        bytes[at] = UInt8(ascii: "s")
        try FileSystem.writeAtomically(s.journalPath, bytes, mode: 0o640)
        let edited = try await s.ctl("journal", "verify", "--key", key, "--journald-json", json, s.journalPath)
        #expect(edited.status == 1 && edited.stdout.contains("journald recorded"), "\(edited)")
    }

    @Test("retention prunes old files with a record; deleting one by hand is caught")
    func retentionIsToldApartFromDeletion() async throws {
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        defer { s.tearDown() }
        try s.writeConfig(Self.config(s, journal: "fsync: never, rotate_size: 3KiB, keep_rotated: 2"))
        try await s.startDaemon()
        #expect(try await s.ctl("start", "--mode", "full", "--rounds", "6").status == 0)
        try await s.waitForStatus("the run to complete") { $0.state == .idle && $0.round == 6 }
        let rotated = RotatedJournals.all(besides: s.journalPath)
        #expect(rotated.count == 2, "\(rotated)")
        #expect(!(try s.wholeJournal(fromStart: false)).of("journal_pruned").isEmpty)
        let verify = try await s.ctl("journal", "verify", s.journalPath)
        #expect(verify.status == 0 && verify.stdout.contains("removed by retention"), "\(verify)")
        #expect(unlink(rotated[0]) == 0)
        let deleted = try await s.ctl("journal", "verify", s.journalPath)
        #expect(deleted.status == 1 && deleted.stdout.contains("a journal file was deleted"), "\(deleted)")
    }

    @Test("a follower that stops reading never stalls the daemon, and then gets every line once")
    func aStalledFollowerGetsEveryLine() async throws {
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        defer { s.tearDown() }
        try s.writeConfig(Self.config(s, journal: "fsync: never"))
        try await s.startDaemon()
        var pipeFDs: [Int32] = [-1, -1]
        #expect(pipe(&pipeFDs) == 0)
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let errors = try CaptureFile()
        let follower = try Processes.spawn(
            [Binaries.heidictl, "--socket", s.socket, "--json", "events", "-f"],
            environment: TestEnvironment.make(["HEIDI_E2E_SESSION": s.dir.path]),
            stdout: pipeFDs[1],
            stderr: errors.fd
        )
        close(pipeFDs[1])
        defer {
            kill(follower, SIGKILL)
            _ = Processes.waitBlocking(follower, timeout: 5)
            close(pipeFDs[0])
            errors.close()
        }
        // Nobody reads the pipe: heidictl blocks, then the socket fills up. The run must complete regardless.
        #expect(try await s.ctl("start", "--mode", "full", "--rounds", "120").status == 0)
        let events = try await s.waitForEvent("pipeline_complete", timeout: 60)
        #expect(try await s.status().state == .idle)
        let last = try #require(events.last?.seq)

        _ = fcntl(pipeFDs[0], F_SETFL, fcntl(pipeFDs[0], F_GETFL) | O_NONBLOCK)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Clock.seconds() + 30
        while Clock.seconds() < deadline {
            let n = buffer.withUnsafeMutableBytes { read(pipeFDs[0], $0.baseAddress, $0.count) }
            if n > 0 { received += buffer[0..<n] } else { try await Task.sleep(nanoseconds: 10_000_000) }
            if let tail = JournalLines.split(received).last, JournalLines.seq(tail) >= last { break }
        }
        let got = JournalLines.split(received)
        #expect(got.map(JournalLines.seq) == Array(1...last), "every line once, in order")
        #expect(Array(got.prefix(events.count)) == events.map(\.bytes), "byte for byte")
    }

    @Test("bad input gets a clear verdict from heidictl: never a crash or a hang")
    func badInputVerdicts() async throws {
        let s = try Session()
        defer { s.tearDown() }
        let line =
            #"{"event_version":"2","seq":1,"ts":"2026-11-22T06:27:39.286123Z","run_id":null,"round":0,"stage":null,"level":"info","event_type":"daemon_start","message":"m","counters_delta":{},"usage_delta":{},"artifact_paths":[],"prev_hash":"\#(SHA256.zeroHex)"}"#
        let cases: [(String, [UInt8], Int32, String)] = [
            ("crlf.jsonl", Array((line + "\r\n").utf8), 1, "CRLF"),
            ("notours.jsonl", Array("[Unit]\nDescription=x\n".utf8), 1, "not a heidi journal line"),
            ("empty.jsonl", [], 0, "intact: 0 lines"),
            ("nul.jsonl", [UInt8](repeating: 0, count: 100), 1, "NUL"),
            (
                "utf8.jsonl",
                Array(line.replacing(#""message":"m""#, with: #""message":"\#u{1}""#).utf8).map { $0 == 1 ? 0xFF : $0 }
                    + [0x0a],
                1, "invalid UTF-8"
            ),
            ("huge.jsonl", [UInt8](repeating: 0x7b, count: 10 << 20) + [0x0a], 1, "longer than 64 KiB"),
        ]
        for (name, bytes, status, text) in cases {
            let path = s.dir.file(name)
            try FileSystem.writeAtomically(path, bytes, mode: 0o644)
            let result = try await s.ctl("journal", "verify", path)
            #expect(result.status == status && result.stdout.contains(text), "\(name): \(result)")
        }
        #expect(try await s.ctl("journal", "verify", s.dir.path).status == 5, "a directory is unreadable")
        #expect(try await s.ctl("journal", "verify", s.dir.file("missing.jsonl")).status == 5)
    }
}

extension Session {
    /// The rotated files and the live one, parsed as one chain.
    func wholeJournal(fromStart: Bool = true) throws -> [JournalLine] {
        let bytes = try (RotatedJournals.all(besides: journalPath) + [journalPath]).flatMap { try FileSystem.read($0) }
        return try JournalLines.parse(bytes, fromStart: fromStart)
    }
}

extension JournalLines {
    /// The seq of a line, read independently of the daemon's code.
    static func seq(_ line: [UInt8]) -> Int64 {
        (try? StrictJSONParser.parse(line.dropLast()))?["seq"]?.int64Value ?? -1
    }
}
