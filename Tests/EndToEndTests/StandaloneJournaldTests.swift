import HeidiCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// heidid's journald output (SPEC §7) read back from a real systemd-journald, without booting anything: a private mount
/// namespace (`unshare --mount`) gets a tmpfs `/run` and a standalone `/lib/systemd/systemd-journald` whose volatile
/// journal directory is bind-mounted from the test's scratch directory; the built heidid runs in that namespace (so
/// `sd_journal_sendv` reaches that journald, and the host's `/run` is never touched) and the test drives it with
/// heidictl and reads the entries back with `journalctl --directory -o json`.
///
/// Covers the whole path: the event mirror (every journal line becomes an entry with MESSAGE, PRIORITY,
/// SYSLOG_IDENTIFIER=heidid, MESSAGE_ID, HEIDI_EVENT_TYPE/SEQ/HASH/RUN_ID/ROUND/STAGE), child output
/// (SYSLOG_IDENTIFIER=heidi-<stage>, HEIDI_STAGE/ROUND/RUN_ID/CHILD_PID, priority 6 for stdout and 4 for stderr,
/// secrets redacted), and heidid's own structured logs (`--log-target journald`). Needs root (mount namespace).
@Suite(.serialized)
struct StandaloneJournaldTests {
    static let journald = "/lib/systemd/systemd-journald"

    /// MESSAGE_IDs are an interface (operators query `journalctl MESSAGE_ID=…`): frozen here, independently of the code.
    static let frozenMessageIDs = [
        "daemon_start": "bc0c1c9c02c0a4d8d47770873b5825ec",
        "stage_end": "ae81ce3728d9381003f968dc1829ad03",
        "pipeline_complete": "154ffc265e845c58c2cf8991c1b8a0ea",
    ]

    static let secret = "sk-proj-Zq8vN3xLw0Rt5Yb7Kd2Hf9Jm4Pc6Sg1Ue"
    /// Rounds of the run: 4 quick stages each, so 4 × rounds stage runs whose output is checked line by line.
    static let rounds = 8

    /// The pid a stage_end message names ("… in 0.1s, pid 1234").
    static func pid(inMessage message: String) -> Int32? {
        let words = message.split(separator: " ")
        guard let index = words.lastIndex(of: "pid"), index + 1 < words.count else { return nil }
        return Int32(words[index + 1].prefix { $0.isNumber })
    }

    /// Runs in the private namespace: tmpfs /run, journald, then heidid in the foreground of the script.
    static let namespaceScript = #"""
        set -eu
        journal=$1 heidid=$2 config=$3 state=$4 socket=$5 logs=$6
        mount -t tmpfs -o mode=0755 tmpfs /run
        mkdir -p /run/systemd/journald.conf.d /run/log/journal
        mount --bind "$journal" /run/log/journal
        printf '[Journal]\nStorage=volatile\nReadKMSG=no\nRateLimitBurst=0\nForwardToSyslog=no\nForwardToKMsg=no\nForwardToConsole=no\nForwardToWall=no\n' \
            > /run/systemd/journald.conf.d/test.conf
        /lib/systemd/systemd-journald >"$logs/journald.log" 2>&1 &
        jpid=$!
        i=0
        until [ -S /run/systemd/journal/socket ] && [ -S /run/systemd/journal/stdout ]; do
            i=$((i + 1))
            if [ $i -gt 200 ] || ! kill -0 $jpid 2>/dev/null; then
                echo "systemd-journald did not create its sockets within 10 s:" >&2
                cat "$logs/journald.log" >&2
                kill $jpid 2>/dev/null
                exit 97
            fi
            sleep 0.05
        done
        "$heidid" --config "$config" --state-dir "$state" --socket "$socket" --log-target journald \
            >"$logs/heidid.stdout" 2>"$logs/heidid.stderr" &
        dpid=$!
        set +e
        wait $dpid
        rc=$?
        kill -TERM $jpid
        wait $jpid
        exit $rc
        """#

    static func config(stateDir: String) -> String {
        // Every stage writes one stdout and one stderr line; generate also prints a secret that must not reach journald.
        var yaml = """
            pipeline: {mode: full, rounds: \(rounds), run_unit_tests: false}
            paths: {repo_root: .}
            stage_defaults: {timeout: 30s, stop_grace: 2s}
            limits: {max_cpu_pct: 100, max_mem_pct: 100}
            logs: {journald: true}
            stages:

            """
        for stage in ["generate", "validate", "test", "train", "eval"] {
            var line = "echo out-\(stage) round $HEIDI_ROUND; echo err-\(stage) >&2"
            if stage == "generate" { line += "; echo \"using OPENAI_API_KEY=\(secret)\"" }
            yaml += "  \(stage):\n    command: \(TestConfig.quoted(line))\n"
        }
        return yaml
    }

    @Test("events, child output and heidid's own logs reach a real journald with the SPEC §7 fields")
    func fieldsInRealJournald() async throws {
        guard geteuid() == 0 else {
            throw HarnessError(
                "this test must run as root: it mounts a private /run in a new mount namespace for journald"
            )
        }
        guard access(Self.journald, X_OK) == 0 else {
            throw HarnessError(
                "\(Self.journald) is missing (package systemd): needed to test the journald field mapping"
            )
        }
        let unshare = try requireTool("unshare")
        let journalctl = try requireTool("journalctl")
        let s = try Session()
        defer { s.tearDown() }
        try s.writeConfig(Self.config(stateDir: s.stateDir))
        let journalDir = s.dir.file("journal")
        let logs = s.dir.file("logs")
        for dir in [journalDir, logs] { #expect(mkdir(dir, 0o755) == 0) }

        let output = try CaptureFile()
        defer { output.close() }
        let argv = [
            unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", Self.namespaceScript, "sh",
            journalDir, Binaries.heidid, s.configPath ?? "", s.stateDir, s.socket, logs,
        ]
        let namespace = try Processes.spawn(
            argv,
            environment: TestEnvironment.make(["HEIDI_E2E_SESSION": s.dir.path]),
            stdout: output.fd,
            stderr: output.fd
        )
        defer {
            if Processes.reap(namespace) == nil {
                Processes.killGroupAndReap(namespace)
            }
        }
        func diagnostics() -> String {
            let text = { (name: String) in
                (try? FileSystem.read(logs + "/" + name)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            }
            return
                "namespace script: \(String(decoding: output.contents(), as: UTF8.self))\njournald: \(text("journald.log"))\n"
                + "heidid stderr: \(text("heidid.stderr"))"
        }

        // heidid answers once journald is up and it is ready.
        let deadline = Clock.seconds() + 20
        var answered = false
        while Clock.seconds() < deadline {
            if Processes.reap(namespace) != nil {
                throw HarnessError("the namespace ended before heidid answered\n\(diagnostics())")
            }
            if (try await s.ctl("status")).status == 0 {
                answered = true
                break
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        guard answered else { throw HarnessError("heidid did not answer within 20 s\n\(diagnostics())") }

        let start = try await s.ctl("start", "--mode", "full", "--rounds", String(Self.rounds))
        #expect(start.status == 0, "start: \(start)")
        try await s.waitForEvent("pipeline_complete", timeout: 30)
        let status = try await s.status()
        let runID = try #require(status.runID)
        #expect(kill(status.pid, SIGTERM) == 0)
        var exit: Int32?
        let stopDeadline = Clock.seconds() + 20
        while exit == nil && Clock.seconds() < stopDeadline {
            exit = Processes.reap(namespace)
            if exit == nil { try await Task.sleep(nanoseconds: 20_000_000) }
        }
        #expect(
            exit == 0,
            "heidid (or the namespace script) did not end cleanly within 20 s of SIGTERM\n\(diagnostics())"
        )

        let read = try await Processes.run([journalctl, "--directory", journalDir, "--output", "json", "--no-pager"])
        try #require(read.status == 0, "journalctl: \(read)")
        let entries = try Self.parseEntries(read.stdoutBytes)
        let events = try s.events()
        try #require(!entries.isEmpty, "journald holds no entries\n\(diagnostics())")

        // 1. Every journal line is mirrored exactly once, with all fields.
        let priorities = ["debug": "7", "info": "6", "warn": "4", "error": "3", "critical": "2"]
        var idsByType: [String: Set<String>] = [:]
        for event in events {
            let mirrored = entries.filter {
                $0["HEIDI_SEQ"] == String(event.seq) && $0["SYSLOG_IDENTIFIER"] == "heidid"
            }
            #expect(mirrored.count == 1, "seq \(event.seq) (\(event.type)): \(mirrored.count) journald entries")
            guard let entry = mirrored.first else { continue }
            let expected: [String: String] = [
                "MESSAGE": event.message, "PRIORITY": priorities[event.level] ?? "?", "HEIDI_EVENT_TYPE": event.type,
                "HEIDI_HASH": SHA256.hex(event.bytes), "HEIDI_RUN_ID": event.runID ?? "",
                "HEIDI_ROUND": String(event.round),
                "HEIDI_STAGE": event.stage ?? "",
                "MESSAGE_ID": String(SHA256.hex(Array("heidi.event.\(event.type)".utf8)).prefix(32)),
            ]
            for (field, value) in expected.sorted(by: { $0.key < $1.key }) {
                #expect(
                    entry[field] == value,
                    "seq \(event.seq) (\(event.type)) \(field): \(entry[field] ?? "missing"), expected \(value)"
                )
            }
            idsByType[event.type, default: []].insert(entry["MESSAGE_ID"] ?? "")
        }
        for (type, id) in Self.frozenMessageIDs {
            #expect(idsByType[type] == [id], "MESSAGE_ID of \(type) changed: \(idsByType[type] ?? [])")
        }
        let types = Set(events.map(\.type))
        for type in [
            "daemon_start", "pipeline_start", "round_start", "stage_start", "stage_end", "pipeline_complete",
            "daemon_stop",
        ] {
            #expect(types.contains(type), "no \(type) event in the run: \(events.map(\.type))")
        }

        // 2. Child output: both streams of every stage run, with their fields. HEIDI_CHILD_PID must be the stage's pid
        //    (the one its stage_end names) for every line, the first ones too: the stages print at once, before a
        //    slow spawn path could learn the pid, and there are many stage runs, so a race there shows up.
        var childPIDs: Set<String> = []
        for round in 1...Self.rounds {
            for stage in ["generate", "validate", "train", "eval"] {
                let lines = entries.filter {
                    $0["HEIDI_STAGE"] == stage && $0["HEIDI_ROUND"] == String(round) && $0["HEIDI_CHILD_PID"] != nil
                }
                let stdout = lines.filter { $0["MESSAGE"] == "out-\(stage) round \(round)" }
                let stderr = lines.filter { $0["MESSAGE"] == "err-\(stage)" }
                let messages = lines.map { $0["MESSAGE"] ?? "" }
                #expect(
                    stdout.count == 1 && stderr.count == 1,
                    "\(stage) round \(round): lines in journald: \(messages)"
                )
                let ends = events.filter { $0.type == "stage_end" && $0.stage == stage && $0.round == Int64(round) }
                let stagePID = ends.first.flatMap { Self.pid(inMessage: $0.message) }
                #expect(stagePID != nil, "\(stage) round \(round): no stage_end naming the pid: \(ends.map(\.message))")
                for (line, priority) in [(stdout.first, "6"), (stderr.first, "4")] {
                    guard let line else { continue }
                    let what = "\(stage) round \(round) line \"\(line["MESSAGE"] ?? "")\""
                    #expect(
                        line["SYSLOG_IDENTIFIER"] == "heidi-\(stage)",
                        "\(what): SYSLOG_IDENTIFIER \(line["SYSLOG_IDENTIFIER"] ?? "missing")"
                    )
                    #expect(
                        line["PRIORITY"] == priority,
                        "\(what): PRIORITY \(line["PRIORITY"] ?? "missing"), expected \(priority)"
                    )
                    #expect(line["HEIDI_RUN_ID"] == runID, "\(what): HEIDI_RUN_ID \(line["HEIDI_RUN_ID"] ?? "missing")")
                    let pid = line["HEIDI_CHILD_PID"] ?? ""
                    #expect(
                        pid != "0",
                        "\(what): HEIDI_CHILD_PID=0, forwarded before the engine knew the child's pid (JournaldFeed.setPID runs after launcher.launch started the output capture)"
                    )
                    #expect(
                        pid == stagePID.map(String.init),
                        "\(what): HEIDI_CHILD_PID \(pid), but the stage's pid is \(stagePID.map(String.init) ?? "?")"
                    )
                }
                childPIDs.formUnion(lines.compactMap { $0["HEIDI_CHILD_PID"] })
            }
        }
        let leaked = entries.filter { ($0["MESSAGE"] ?? "").contains(Self.secret) }.map { $0["MESSAGE"] ?? "" }
        #expect(leaked.isEmpty, "a secret reached journald unredacted: \(leaked)")
        let keyLine = entries.filter {
            $0["HEIDI_STAGE"] == "generate" && ($0["MESSAGE"] ?? "").hasPrefix("using OPENAI_API_KEY=")
        }
        #expect(keyLine.count == Self.rounds, "the generate lines with the (redacted) key are missing: \(keyLine)")

        // 3. heidid's own logs are structured entries.
        let own = entries.filter { $0["HEIDI_LOGGER"] != nil }
        #expect(!own.isEmpty, "no structured log entry of heidid (HEIDI_LOGGER) in journald")
        for entry in own {
            #expect(entry["SYSLOG_IDENTIFIER"] == "heidid", "\(entry)")
            #expect(entry["CODE_FILE"] != nil && entry["CODE_LINE"] != nil, "\(entry)")
            #expect(["2", "3", "4", "5", "6", "7"].contains(entry["PRIORITY"] ?? ""), "\(entry)")
        }
    }

    /// `journalctl -o json` lines as field maps; binary field values (arrays of byte values) become text.
    static func parseEntries(_ bytes: [UInt8]) throws -> [[String: String]] {
        var entries: [[String: String]] = []
        for line in bytes.split(separator: 0x0a) where !line.isEmpty {
            let value: JSONValue
            do { value = try StrictJSONParser.parse(line) } catch {
                throw HarnessError(
                    "journalctl printed a line that is not JSON (\(error)): \(String(decoding: line, as: UTF8.self))"
                )
            }
            guard case .object(let members) = value else {
                throw HarnessError("journalctl printed a non-object: \(String(decoding: line, as: UTF8.self))")
            }
            var entry: [String: String] = [:]
            for (key, field) in members {
                switch field {
                case .string(let text): entry[key] = text
                case .number(let text): entry[key] = text
                case .array(let items):
                    let bytes = items.compactMap { $0.int64Value.flatMap { UInt8(exactly: $0) } }
                    entry[key] = String(decoding: bytes, as: UTF8.self)
                default: break
                }
            }
            entries.append(entry)
        }
        return entries
    }
}
