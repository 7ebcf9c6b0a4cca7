#if canImport(Glibc)
import Glibc
#endif
import HeidiCore
import Testing

/// Daemon restarts on the same state directory: the journal chain continues, and a torn tail is repaired.
@Suite(.serialized)
struct RestartTests {
    @Test("a restarted daemon continues the journal: next seq, prev_hash of the old last line, verify intact")
    func chainContinuesAcrossRestart() async throws {
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell())
        try await s.startDaemon()
        #expect(try await s.ctl("start", "--mode", "full", "--rounds", "2").status == 0)
        try await s.waitForEvent("pipeline_complete")
        #expect(try await s.stopDaemon() == 0)
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

    @Test("kill -9 during a stage: the restarted daemon kills all of it, setsid escapers too, before running it once more")
    func recoveryAfterKill9LeavesNothingOfTheInterruptedStage() async throws {
        let s = try Session()
        defer { s.tearDown() }
        // The stage leaves one process in a session of its own: not in the stage's process group, so only the
        // instance marker (or the cgroup) still ties it to the stage once its daemon is gone.
        let stageMarker = "HEIDI_E2E_STAGE=" + s.dir.path
        try s.writeConfig(TestConfig.shell(stages: [.generate: "setsid sleep 303 & exec sleep 303"],
                                           stageEnv: ["HEIDI_E2E_STAGE": s.dir.path]))
        let first = try await s.startDaemon()
        #expect(try await s.ctl("start", "--mode", "full", "--rounds", "1").status == 0)
        let old = try await s.waitUntil("the stage and its escaper") { () -> [pid_t]? in
            let pids = Processes.withEnvironmentEntry(stageMarker)
            return pids.count == 2 ? pids : nil
        }
        kill(first.pid, SIGKILL)
        #expect(await first.waitForExit(timeout: Session.patience) != nil)
        #expect(Processes.withEnvironmentEntry(stageMarker).sorted() == old.sorted(), "kill -9 of heidid leaves its stage running")

        try await s.startDaemon()
        let events = try await s.waitForEvent("run_recovered")
        let recovered = try #require(events.of("run_recovered").last)
        #expect(recovered.message.contains("killed 2 processes"), "\(recovered.message)")
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
