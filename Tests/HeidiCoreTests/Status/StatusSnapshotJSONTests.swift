import HeidiCore
import Testing

@Suite("Status JSON")
struct StatusJSONTests {
    static func snapshot(child: Bool, error: Bool) -> StatusSnapshot {
        StatusSnapshot(
            version: "0.1.0", pid: 42, startedAt: "2026-11-22T06:30:00.000000Z", state: .finalizing, mode: .collect,
            runID: child ? "run_1" : nil, round: 2, rounds: 3, stage: child ? "train" : nil, paused: false,
            pauseRequested: true, trainNowPending: false, awaitingTrainNow: false, stopping: false,
            child: child ? ChildStatus(pid: 7, pgid: 7, argv: ["python3", "a \"b\"\n"], startedAt: "t", elapsedSeconds: 12.5,
                                       timeoutSeconds: 43200, status: "epoch 3/10", startTicks: 99,
                                       progress: error ? ChildProgress(done: 45, total: 100, percent: 45, rate: 30.1) : nil,
                                       executor: error ? ["executor": "slurm", "job_id": "42", "state": "RUNNING"] : nil) : nil,
            lastError: error ? PipelineFailure(stage: "eval", round: 1, message: "exit 3; last output:\nboom", exitCode: 3,
                                               signal: nil, at: "t") : nil,
            lastWarning: error ? PipelineFailure(stage: "eval", round: 2, message: "exit 1", exitCode: 1, signal: nil, at: "w") : nil,
            journal: JournalHead(path: "/var/lib/heidi/events.jsonl", seq: 1234, head: SHA256.zeroHex),
            supervision: "subreaper+pgroup", updatedAt: "u")
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func handWrittenEncodingEqualsTheCodableOne(child: Bool, error: Bool) throws {
        let status = Self.snapshot(child: child, error: error)
        let fast = status.jsonBytes()
        #expect(fast == (try JSONCoding.encode(status)), "\(String(decoding: fast, as: UTF8.self))")
        #expect(try JSONCoding.decode(StatusSnapshot.self, from: fast) == status)
        let text = String(decoding: fast, as: UTF8.self)
        if child {
            // child.progress is always present: null until the stage printed a progress line.
            #expect(text.contains(error ? #""progress":{"done":45,"eta_s":null,"percent":45,"rate":30.1,"total":100}"# : #""progress":null"#))
            // child.executor only for a stage that runs elsewhere (a Slurm job): its facts, absent for a local child.
            #expect(error == text.contains(#""executor":{"executor":"slurm","job_id":"42","state":"RUNNING"}"#), "\(text)")
        }
    }
}
