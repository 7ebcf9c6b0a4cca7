import HeidiCore
import Testing

/// The bundled demo pipeline (config/demo.yaml, contrib/demo/*.py) end to end with real child processes.
@Suite(.serialized)
struct DemoRunTests {
    static let repositoryRoot = FileSystem.dirname(FileSystem.dirname(FileSystem.dirname(#filePath)))

    @Test("two full rounds of the demo pipeline: status, journal format and chain, verify, curl")
    func twoFullRounds() async throws {
        let s = try Session()
        defer { s.tearDown() }
        s.useConfig(Self.repositoryRoot + "/config/demo.yaml")
        let daemon = try await s.startDaemon()
        let start = try await s.ctl("start", "--mode", "full", "--rounds", "2")
        #expect(start.status == 0, "start: \(start)")
        try await s.waitForEvent("pipeline_complete", timeout: 75)

        let status = try await s.waitForStatus("IDLE after the run") { $0.state == .idle }
        #expect(status.round == 2)
        #expect(status.rounds == 2)
        #expect(status.mode == .full)
        #expect(status.lastError == nil)
        #expect(status.child == nil)
        #expect(status.pid == daemon.pid)

        // Every line: compact JSON, SPEC §7 key order, seq 1, 2, 3, … and the hash chain (checked by `events()`).
        let events = try s.events()
        #expect(status.journal.seq == UInt64(events.count))
        #expect(status.journal.head == SHA256.hex(events.last?.bytes ?? []))
        for round in Int64(1)...2 {
            for stage in Stage.allCases {
                let ends = events.of("stage_end", stage: stage.rawValue, round: round)
                let succeeded = ends.allSatisfy { $0.level == "info" && $0.message.contains("finished") }
                #expect(ends.count == 1, "round \(round) \(stage.rawValue): \(ends.map(\.message))")
                #expect(succeeded, "\(ends.map(\.message))")
            }
        }
        #expect(events.of("pipeline_complete").count == 1)

        let verify = try await s.ctl("journal", "verify", s.journalPath)
        #expect(verify.status == 0, "verify: \(verify)")
        #expect(verify.stdout.contains("intact"), "verify: \(verify)")

        let curl = try await Processes.run([
            try requireTool("curl"), "--silent", "--show-error", "--max-time", "10",
            "--unix-socket", s.socket, "http://localhost/api/v1/status",
        ])
        #expect(curl.status == 0, "curl: \(curl)")
        let viaCurl = try JSONCoding.decode(StatusSnapshot.self, from: curl.stdoutBytes)
        #expect(viaCurl.state == .idle)
        #expect(viaCurl.runID == status.runID)
        #expect(viaCurl.round == 2)

        #expect(try await s.stopDaemon() == 0)
        #expect(try s.events().last?.type == "daemon_stop")
    }
}
