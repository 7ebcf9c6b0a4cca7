import HeidiAPI
import HeidiCore
import Testing

/// The stage progress channel through the daemon (SPEC §4): live `STATUS=` and counters in `heidictl status`,
/// sums in `stage_end` and `/metrics`, and the per-stage watchdog.
@Suite(.serialized)
struct ProgressChannelEndToEndTests {
    @Test("STATUS and counters show live in status, add up in stage_end and /metrics")
    func liveCountersAndStageEnd() async throws {
        let s = try Session()
        defer { s.tearDown() }
        let gate = s.dir.file("gate")
        let script = s.dir.file("report.py")
        try FileSystem.writeAtomically(script, Array(Self.pythonBody(gate: gate).utf8))
        try s.writeConfig(TestConfig.shell(stages: [.generate: "exec python3 \(script)"]))
        try await s.startDaemon()
        #expect(try await s.ctl("start", "--rounds", "1").status == 0)
        let live = try await s.waitForStatus("the stage's counters") { $0.child?.counters?["rejected_syntax"] == 1 }
        #expect(live.child?.status == "generating 2/4")
        #expect(live.child?.counters == ["teacher_generated": 4, "rejected_syntax": 1])
        #expect(live.child?.usage == ["requests_sent": 3])
        let human = try await s.ctl("status")
        #expect(human.stdout.contains("generating 2/4"), "human status: \(human.stdout)")
        #expect(human.stdout.contains("rejected_syntax=1 teacher_generated=4"), "human status: \(human.stdout)")
        let metricsLive = try await Self.metrics(s)
        #expect(
            metricsLive.stdout.contains(
                "heidi_stage_reported_counter_total{name=\"teacher_generated\",stage=\"generate\"} 4"
            ),
            "metrics: \(metricsLive.stdout)"
        )

        try s.openGate(gate)
        let events = try await s.waitForEvent("pipeline_complete", timeout: 30)
        let end = try #require(events.of("stage_end").first { $0.stage == "generate" })
        #expect(end.counters["teacher_generated"] == 4)
        #expect(end.counters["rejected_syntax"] == 1)
        #expect(end.counters["output_lines"] != nil)
        #expect(end.usage["requests_sent"] == 4)
        #expect(end.usage["wall_ms"] != nil)
        let metrics = try await Self.metrics(s)
        #expect(
            metrics.stdout.contains("heidi_stage_reported_usage_total{name=\"requests_sent\",stage=\"generate\"} 4"),
            "metrics: \(metrics.stdout)"
        )
    }

    @Test("a stage with watchdog: that stops pinging is killed as hung and fails the run")
    func hungStageIsKilled() async throws {
        let s = try Session()
        defer { s.tearDown() }
        let yaml = TestConfig.shell(stages: [.generate: "sleep 60"])
            .replacing("    command: 'sleep 60'\n", with: "    command: 'sleep 60'\n    watchdog: 1s\n")
        #expect(yaml.contains("watchdog: 1s"))
        try s.writeConfig(yaml)
        try await s.startDaemon()
        #expect(try await s.ctl("start", "--rounds", "1").status == 0)
        let events = try await s.waitForEvent("pipeline_error", timeout: 30)
        let timeout = try #require(events.of("stage_timeout").first)
        #expect(timeout.message.contains("WATCHDOG=1"), "\(timeout.message)")
        #expect(timeout.message.contains("hung"), "\(timeout.message)")
        let status = try await s.waitForStatus("ERROR") { $0.state == .error }
        #expect(status.child == nil)
    }

    /// `GET /metrics` through curl.
    static func metrics(_ s: Session) async throws -> ProcessResult {
        try await Processes.run([
            try requireTool("curl"), "--silent", "--show-error", "--max-time", "10", "--unix-socket", s.socket,
            "http://localhost/metrics",
        ])
    }

    /// A stage that reports through `HEIDI_NOTIFY_SOCKET` (with the README's sender), then waits for `gate`.
    static func pythonBody(gate: String) -> String {
        """
        import os, socket, time
        def notify(message):
            address = os.environ["HEIDI_NOTIFY_SOCKET"]
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.sendto(message.encode(), "\\0" + address[1:] if address.startswith("@") else address)
        notify('STATUS=generating 2/4\\nX_HEIDI_COUNTERS={"teacher_generated":2}\\nX_HEIDI_USAGE={"requests_sent":3}')
        notify('X_HEIDI_COUNTERS={"teacher_generated":2,"rejected_syntax":1}')
        while not os.path.exists("\(gate)"):
            time.sleep(0.05)
        notify('STATUS=done\\nX_HEIDI_USAGE={"requests_sent":1}')

        """
    }
}
