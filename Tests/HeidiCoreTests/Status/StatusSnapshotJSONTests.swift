import HeidiCore
import Testing

@Suite("Status JSON")
struct StatusJSONTests {
    static func snapshot(child: Bool, error: Bool) -> StatusSnapshot {
        StatusSnapshot(
            version: "0.1.0",
            pid: 42,
            startedAt: "2026-11-22T06:30:00.000000Z",
            state: .finalizing,
            mode: .collect,
            runID: child ? "run_1" : nil,
            round: 2,
            rounds: 3,
            stage: child ? "train" : nil,
            paused: false,
            pauseRequested: true,
            trainNowPending: false,
            awaitingTrainNow: false,
            stopping: false,
            child: child
                ? ChildStatus(
                    pid: 7,
                    pgid: 7,
                    argv: ["python3", "a \"b\"\n"],
                    startedAt: "t",
                    elapsedSeconds: 12.5,
                    timeoutSeconds: 43200,
                    status: "epoch 3/10",
                    startTicks: 99,
                    progress: error ? ChildProgress(done: 45, total: 100, percent: 45, rate: 30.1) : nil,
                    executor: error ? ["executor": "slurm", "job_id": "42", "state": "RUNNING"] : nil
                ) : nil,
            lastError: error
                ? PipelineFailure(
                    stage: "eval",
                    round: 1,
                    message: "exit 3; last output:\nboom",
                    exitCode: 3,
                    signal: nil,
                    at: "t"
                ) : nil,
            lastWarning: error
                ? PipelineFailure(stage: "eval", round: 2, message: "exit 1", exitCode: 1, signal: nil, at: "w") : nil,
            journal: JournalHead(path: "/var/lib/heidi/events.jsonl", seq: 1234, head: SHA256.zeroHex),
            supervision: "subreaper+pgroup",
            updatedAt: "u"
        )
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
            #expect(
                text.contains(
                    error
                        ? #""progress":{"done":45,"eta_s":null,"percent":45,"rate":30.1,"total":100}"#
                        : #""progress":null"#
                )
            )
            // child.executor only for a stage that runs elsewhere (a Slurm job): its facts, absent for a local child.
            #expect(
                error == text.contains(#""executor":{"executor":"slurm","job_id":"42","state":"RUNNING"}"#),
                "\(text)"
            )
        }
    }

    /// heidictl reads the status with `init(json:)` (no JSONDecoder in a short-lived process): it must read what
    /// the Codable decoding reads, from both encodings.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func handWrittenDecodingEqualsTheCodableOne(child: Bool, error: Bool) throws {
        var status = Self.snapshot(child: child, error: error)
        status.child?.counters = ["raw_written": 120, "teacher_failed": 3]
        status.child?.usage = error ? ["tokens": 1.5e9] : [:]
        status.journal.damage = error ? "cut at seq 105" : nil
        for bytes in [status.jsonBytes(), try JSONCoding.encode(status)] {
            #expect(try StatusSnapshot(json: bytes) == status)
            #expect(try StatusSnapshot(json: bytes) == (try JSONCoding.decode(StatusSnapshot.self, from: bytes)))
        }
    }

    @Test("the hand-written decoding takes what JSONDecoder takes and refuses what it refuses, naming the member")
    func handWrittenDecodingRules() throws {
        let text = String(decoding: Self.snapshot(child: true, error: true).jsonBytes(), as: UTF8.self)
        func decoded(_ edited: String) -> (hand: StatusSnapshot?, error: String?, codable: StatusSnapshot?) {
            let bytes = Array(edited.utf8)
            var failure: String?
            var hand: StatusSnapshot?
            do { hand = try StatusSnapshot(json: bytes) } catch { failure = error.description }
            return (hand, failure, try? JSONCoding.decode(StatusSnapshot.self, from: bytes))
        }
        // Optional members may be missing, unknown ones are ignored, integers may be written as 12.0.
        for edited in [
            text.replacing(#""last_warning":{"#, with: #""unknown":1,"x":{"#),
            text.replacing(#""round":2,"#, with: #""round":2.0,"#),
        ] {
            let result = decoded(edited)
            #expect(result.hand != nil && result.hand == result.codable, "\(result.error ?? "")")
        }
        let refused: [(String, String)] = [
            (text.replacing(#""pid":7,"#, with: #""pid":"7","#), "child.pid: expected an integer"),
            (text.replacing(#""round":2,"#, with: #""round":2.5,"#), "round: expected an integer"),
            (text.replacing(#""state":"FINALIZING""#, with: #""state":"DONE""#), "state: expected a known state name"),
            (text.replacing(#""seq":1234"#, with: #""sequence":1234"#), "journal.seq: missing"),
            (String(text.dropLast()), "unterminated object"),
        ]
        for (edited, message) in refused {
            #expect(edited != text)
            let result = decoded(edited)
            #expect(result.hand == nil && result.codable == nil)
            #expect(result.error?.contains(message) == true, "\(result.error ?? "decoded")")
        }
    }
}
