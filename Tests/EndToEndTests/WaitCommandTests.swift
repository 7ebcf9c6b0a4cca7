import HeidiCore
import Testing

/// `heidictl wait` (SPEC §6) sleeps on the daemon's change feed (`GET /api/v1/status?watch=1`) instead of polling:
/// it sees every state the pipeline passes through, however briefly, and costs the daemon two requests.
@Suite(.serialized)
struct WaitCommandTests {
    /// The daemon's count of control requests answered (`heidi_control_request_duration_seconds_count`).
    static func requestsAnswered(_ s: Session) async throws -> Int {
        let metrics = try await ProgressChannelEndToEndTests.metrics(s)
        let line = metrics.stdout.split(separator: "\n").first {
            $0.hasPrefix("heidi_control_request_duration_seconds_count ")
        }
        return try #require(line.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) }, "\(metrics.stdout)")
    }

    @Test("wait for a state that never comes: two requests in 2 s, not one every 100 ms; exit 5 at the timeout")
    func waitDoesNotPoll() async throws {
        let s = try Session()
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell())
        try await s.startDaemon()
        let before = try await Self.requestsAnswered(s)
        let started = Clock.seconds()
        let waited = try await s.ctl("wait", "--state", "ERROR", "--timeout", "2s")
        let took = Clock.seconds() - started
        #expect(waited.status == 5 && waited.stderr.contains("timed out waiting for ERROR"), "\(waited)")
        #expect(took >= 1.9 && took < 10, "the timeout holds: \(took) s")
        // The status, the feed and the first metrics request; a poller made ~20.
        let answered = try await Self.requestsAnswered(s) - before
        #expect(answered <= 3, "requests answered while waiting: \(answered)")
    }

    @Test("wait sees a state the pipeline passes through in an instant (an instant validate stage)")
    func waitSeesABriefState() async throws {
        let s = try Session()
        defer { s.tearDown() }
        let gate = s.dir.file("gate")
        try s.writeConfig(
            TestConfig.shell(mode: .collect, stages: [.generate: TestConfig.waitFor(gate: gate), .validate: "true"])
        )
        try await s.startDaemon()
        #expect(try await s.ctl("start").status == 0)
        try await s.waitForStatus("COLLECTING") { $0.state == .collecting }
        let (socket, environment) = (s.socket, s.environment)
        async let waited = Processes.run(
            [Binaries.heidictl, "--socket", socket, "--json", "wait", "--state", "VALIDATING", "--timeout", "30s"],
            environment: environment
        )
        try await Task.sleep(nanoseconds: 1_000_000_000)  // wait is on the feed
        _ = try s.dir.write("gate", "")
        let result = try await waited
        #expect(result.status == 0 && result.stdout.contains("\"state\":\"VALIDATING\""), "\(result)")
    }
}
