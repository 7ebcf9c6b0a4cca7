import HeidiCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `heidictl events -f --json` survives a daemon restart: it reconnects and resumes after the last seq it printed,
/// so the stream it prints is the journal, without duplicates or gaps.
@Suite(.serialized)
struct FollowerTests {
    @Test("events -f --json reconnects across a daemon restart without duplicates or gaps")
    func eventsFollowAcrossRestart() async throws {
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell())
        try await s.startDaemon()

        let follower = try s.background("--json", "events", "-f")
        defer { follower.stop() }
        #expect(try await s.ctl("start").status == 0)
        try await s.waitForEvent("pipeline_complete")
        let stopped = try await s.stopDaemon()
        #expect(stopped == 0, "heidid exit \(stopped); stderr:\n\(s.daemon?.stderrText ?? "")")
        try await s.startDaemon()
        #expect(try await s.ctl("start").status == 0)
        try await s.waitUntil("the second run to complete") {
            let events = (try? JournalLines.parse(s.journalBytes())) ?? []
            return events.filter { $0.type == "pipeline_complete" }.count == 2 ? true : nil
        }

        let journal = try s.journalBytes().split(separator: 0x0a).map { Array($0) }
        // The follower catches up asynchronously: wait until it printed as many lines as the journal holds.
        try await s.waitUntil("the follower to catch up") {
            follower.stdoutBytes.split(separator: 0x0a).count >= journal.count ? true : nil
        }
        let printed = follower.stdoutBytes.split(separator: 0x0a).map { Array($0) }
        #expect(printed == journal, "the followed stream must equal the journal byte for byte")
        #expect(follower.stderr.contains("reconnecting"))
        #expect(Processes.reap(follower.pid) == nil, "the follower is still running after the restart")
    }
}
