import HeidiCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Daemon restarts on the same state directory: the journal chain continues, and a torn tail is repaired.
@Suite(.serialized)
struct RestartTests {
    /// A daemon with mocked stages that ran `rounds` full rounds and was stopped: a finished run's journal, daemon down.
    static func finishedMockRun(rounds: Int) async throws -> Session {
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        do {
            try s.writeConfig(TestConfig.shell())
            try await s.startDaemon()
            #expect(try await s.ctl("start", "--mode", "full", "--rounds", String(rounds)).status == 0)
            try await s.waitForEvent("pipeline_complete")
            #expect(try await s.stopDaemon() == 0)
            return s
        } catch {
            s.tearDown()
            throw error
        }
    }

    @Test("a restarted daemon continues the journal: next seq, prev_hash of the old last line, verify intact")
    func chainContinuesAcrossRestart() async throws {
        let s = try await Self.finishedMockRun(rounds: 2)
        defer { s.tearDown() }
        let before = try s.journalBytes()
        let old = try JournalLines.parse(before)
        let oldLast = try #require(old.last)
        #expect(oldLast.type == "daemon_stop")

        try await s.startDaemon()
        let after = try s.journalBytes()
        #expect(Array(after.prefix(before.count)) == before, "the old lines are unchanged")
        let all = try JournalLines.parse(after)
        let first = try #require(all.count > old.count ? all[old.count] : nil)
        #expect(first.type == "daemon_start")
        #expect(first.seq == oldLast.seq + 1)
        #expect(first.prevHash == (try await s.sha256sum(oldLast.bytes)))

        let verify = try await s.ctl("journal", "verify", s.journalPath)
        #expect(verify.status == 0 && verify.stdout.contains("intact"), "verify: \(verify)")
        #expect(try await s.stopDaemon() == 0)
    }

    @Test("a torn last line is cut off on start, recorded as journal_repaired, and the journal verifies intact")
    func tornTailIsRepaired() async throws {
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell())
        try await s.startDaemon()
        #expect(try await s.stopDaemon() == 0)
        let intact = try s.journalBytes()
        let oldLast = try #require(try JournalLines.parse(intact).last)

        let torn = Array(#"{"event_version":"2","seq":\#(oldLast.seq + 1),"ts":"2026-"#.utf8)
        let fd = open(s.journalPath, O_WRONLY | O_APPEND)
        #expect(fd >= 0)
        let written = torn.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        #expect(written == torn.count)
        close(fd)
        let beforeRepair = try await s.ctl("journal", "verify", s.journalPath)
        #expect(beforeRepair.status == 1, "a torn tail is not intact: \(beforeRepair)")
        #expect(beforeRepair.stdout.contains("torn"), "\(beforeRepair)")

        try await s.startDaemon()
        let events = try s.events()
        #expect(Array(try s.journalBytes().prefix(intact.count)) == intact, "only the torn bytes were cut")
        let repaired = try #require(events.of("journal_repaired").first)
        #expect(repaired.seq == oldLast.seq + 2, "journal_repaired follows this start's daemon_start")
        #expect(repaired.message.contains("\(torn.count) bytes"), "\(repaired.message)")
        #expect(repaired.message.contains(try await s.sha256sum(torn)), "\(repaired.message)")

        let verify = try await s.ctl("journal", "verify", s.journalPath)
        #expect(verify.status == 0 && verify.stdout.contains("intact"), "verify: \(verify)")
    }

    @Test("a journal cut back while heidid was down is recorded as journal_damaged; a restart never heals it")
    func aCutJournalStaysDamagedAcrossRestarts() async throws {
        let s = try await Self.finishedMockRun(rounds: 1)
        defer { s.tearDown() }
        let lines = try s.events()
        let kept = try #require(lines.dropLast(4).last)
        try FileSystem.writeAtomically(s.journalPath, lines.dropLast(4).flatMap(\.bytes), mode: 0o640)
        let cut = try await s.ctl("journal", "verify", s.journalPath)
        #expect(cut.status == 1 && cut.stdout.contains("lines were cut off"), "\(cut)")

        // heidid starts, but records what it found, and says so in its log and in status.
        try await s.startDaemon()
        let damaged = try #require(try s.events().of("journal_damaged").first)
        #expect(damaged.seq == kept.seq + 2 && damaged.level == "critical", "after this start's daemon_start")
        #expect(
            damaged.message.contains("records seq \(lines.last?.seq ?? 0) but the journal ends at seq \(kept.seq)"),
            "\(damaged.message)"
        )
        #expect(s.daemon?.stderrText.contains("the journal was damaged") == true)
        #expect(try await s.status().journal.damage?.contains("lines were cut off") == true)

        // The chain goes on past the old end, and verify keeps saying damaged, also after another restart.
        #expect(try await s.ctl("start", "--mode", "full", "--rounds", "1").status == 0)
        try await s.waitForEvent("pipeline_complete")
        #expect(try await s.stopDaemon() == 0)
        try await s.startDaemon()
        #expect(
            try await s.status().journal.damage?.contains("lines were cut off") == true,
            "damage recorded earlier is shown"
        )
        #expect(try s.events().of("journal_damaged").count == 1, "a second start finds nothing new")
        let verify = try await s.ctl("journal", "verify", s.journalPath)
        #expect(
            verify.status == 1 && verify.stdout.hasPrefix("DAMAGED (recorded)")
                && verify.stdout.contains("journal_damaged at seq \(damaged.seq)"),
            "\(verify)"
        )
        let json = try await s.ctl("--json", "journal", "verify", s.journalPath)
        #expect(
            json.status == 1 && json.stdout.contains(#""verdict":"damaged""#)
                && json.stdout.contains(#""damage":[{"seq":\#(damaged.seq)"#),
            "\(json)"
        )
    }

    @Test("a journal changed in the middle: heidid keeps the damaged bytes aside, records it, and goes on")
    func aJournalChangedInTheMiddleIsKeptAsideAndRecorded() async throws {
        let s = try await Self.finishedMockRun(rounds: 1)
        defer { s.tearDown() }
        var bytes = try s.journalBytes()
        let lines = try s.events()
        let middle = lines.count / 2
        let start = lines[..<middle].reduce(0) { $0 + $1.bytes.count }
        let at = try #require(bytes[start...].firstRange(of: Array(#""message":""#.utf8))?.upperBound)
        bytes[at] ^= 0x20  // a letter's case
        try FileSystem.writeAtomically(s.journalPath, bytes, mode: 0o640)

        try await s.startDaemon()
        let damaged = try #require(try s.events().of("journal_damaged").first)
        // Line `middle + 1` was changed (line `middle + 2`'s prev_hash shows it): the lines before it are kept.
        #expect(damaged.seq == lines[middle - 1].seq + 2, "\(damaged.message)")
        #expect(
            damaged.message.contains("line \(middle + 1) (seq \(lines[middle].seq)) was changed"),
            "\(damaged.message)"
        )
        let aside = try #require(try FileSystem.entries(of: s.stateDir).first { $0.hasPrefix("damaged-") })
        let kept = try FileSystem.read(s.stateDir + "/" + aside + "/events.jsonl.from-byte-\(start)")
        #expect(kept == Array(bytes[start...]), "the damaged bytes are kept aside as they were")
        #expect(damaged.message.contains(try await s.sha256sum(kept)))
        let verify = try await s.ctl("journal", "verify", s.journalPath)
        #expect(verify.status == 1 && verify.stdout.hasPrefix("DAMAGED (recorded)"), "\(verify)")
    }

    @Test("verify of a copied journal (no state.json beside it) says the tail was not checked")
    func aCopiedJournalSaysWhatWasNotChecked() async throws {
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell())
        try await s.startDaemon()
        #expect(try await s.stopDaemon() == 0)
        let beside = try await s.ctl("journal", "verify", s.journalPath)
        #expect(
            beside.status == 0 && beside.stdout.contains("the tail against the head \(s.stateDir)/state.json records")
                && !beside.stdout.contains("NOT checked: the last lines"),
            "\(beside)"
        )
        try FileSystem.createDirectories(s.dir.file("copy"))
        let copy = s.dir.file("copy/events.jsonl")
        try FileSystem.writeAtomically(copy, try s.journalBytes(), mode: 0o640)
        let human = try await s.ctl("journal", "verify", copy)
        #expect(
            human.status == 0 && human.stdout.contains("NOT checked: the last lines") && human.stdout.contains("no ")
                && human.stdout.contains("state.json beside it"),
            "\(human)"
        )
        let json = try await s.ctl("--json", "journal", "verify", copy)
        #expect(
            json.stdout.contains(#""not_checked":["the last lines"#)
                && json.stdout.contains(#""checked":["every line's format""#),
            "\(json)"
        )
    }

    @Test(
        "kill -9 during a stage: the restarted daemon kills all of it, setsid escapers too, before running it once more"
    )
    func recoveryAfterKill9LeavesNothingOfTheInterruptedStage() async throws {
        let s = try Session()
        defer { s.tearDown() }
        // The stage leaves one process in a session of its own: not in the stage's process group, so only the
        // instance marker (or the cgroup) still ties it to the stage once its daemon is gone.
        let stageMarker = "HEIDI_E2E_STAGE=" + s.dir.path
        try s.writeConfig(
            TestConfig.shell(
                stages: [.generate: "setsid sleep 303 & exec sleep 303"],
                stageEnv: ["HEIDI_E2E_STAGE": s.dir.path]
            )
        )
        let first = try await s.startDaemon()
        #expect(try await s.ctl("start", "--mode", "full", "--rounds", "1").status == 0)
        let old = try await s.waitUntil("the stage and its escaper") { () -> [pid_t]? in
            let pids = Processes.withEnvironmentEntry(stageMarker)
            return pids.count == 2 ? pids : nil
        }
        // The stage's progress socket (a path in the runtime directory) is left behind by a daemon killed with -9.
        let progressSocket = try #require(
            old.lazy.compactMap { Processes.environmentValue("HEIDI_NOTIFY_SOCKET", of: $0) }.first
        )
        kill(first.pid, SIGKILL)
        #expect(await first.waitForExit(timeout: Session.patience) != nil)
        #expect(
            Processes.withEnvironmentEntry(stageMarker).sorted() == old.sorted(),
            "kill -9 of heidid leaves its stage running"
        )
        #expect(FileSystem.exists(progressSocket), "kill -9 of heidid leaves \(progressSocket)")

        try await s.startDaemon()
        let events = try await s.waitForEvent("run_recovered")
        let recovered = try #require(events.of("run_recovered").last)
        #expect(recovered.message.contains("killed 2 processes"), "\(recovered.message)")
        #expect(!FileSystem.exists(progressSocket), "recovery left the interrupted stage's \(progressSocket)")
        let rerun = try await s.waitForStatus("generate running again") { status in
            status.state == .collecting && status.child.map { !old.contains($0.pid) } == true
        }
        // The new copy starts its own escaper; of the old ones nothing is left: exactly one copy of the stage runs.
        let now = try await s.waitUntil("the re-run stage and its escaper") { () -> [pid_t]? in
            let pids = Processes.withEnvironmentEntry(stageMarker)
            return pids.count >= 2 ? pids : nil
        }
        #expect(now.count == 2 && Set(now).isDisjoint(with: old), "old \(old), now \(now)")
        #expect(now.contains(try #require(rerun.child?.pid)))
        #expect(try await s.stopDaemon() == 0)
    }
}
