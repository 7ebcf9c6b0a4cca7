import HeidiAPI
import HeidiCore
import HeidiSupervisor
import Logging
import Synchronization
import Testing

@testable import HeidiEngine

/// A Slurm-like stage: executor facts and a progress channel with counters, usage and a `STATUS=` line.
final class ReportingHandle: StageHandle {
    private let current = Mutex(StageProgress())
    var pid: Int32 { 4343 }
    var startTicks: UInt64 { 77 }
    func requestStop() {}
    func waitForEnd() async -> StageRunResult {
        await withCheckedContinuation { (_: CheckedContinuation<StageRunResult, Never>) in }
    }
    var progress: StageProgress? { current.withLock { $0 } }
    var executorStatus: [String: String]? { ["executor": "slurm", "job_id": "42", "state": "RUNNING"] }
    func report(status: String, counters: [String: Double], usage: [String: Double]) {
        current.withLock {
            $0.status = status
            $0.counters = counters
            $0.usage = usage
        }
    }
}

/// `GET /api/v1/status` is answered from the status board's template (`StatusBoard.readJSON`), not by encoding the
/// snapshot per request: its bytes must be the encoder's, for every kind of state, and fresh after every change.
@Suite("Status board JSON")
struct StatusBoardJSONTests {
    static func states() -> [(name: String, snapshot: StatusSnapshot, live: Bool)] {
        let idle = StatusBoardRaceTests.snapshot(round: 1)
        var child = idle
        child.child = ChildStatus(
            pid: 4343,
            pgid: 4343,
            argv: ["python3", "train.py", "--name", "a \"quoted\"\n\u{1}"],
            startedAt: "2026-12-07T06:00:01.000000Z",
            elapsedSeconds: 0,
            timeoutSeconds: 43200,
            status: nil,
            startTicks: 77
        )
        var failed = child
        failed.state = .error
        // The failure as the engine records it: output excerpts go through redaction before they reach status.
        let message = Redactor.redact("exit 3; last output:\nAuthorization: Bearer sk-live-0123456789abcdefghij")
        failed.lastError = PipelineFailure(
            stage: "train",
            round: 1,
            message: message,
            exitCode: 3,
            signal: nil,
            at: "t"
        )
        failed.lastWarning = PipelineFailure(
            stage: "eval",
            round: 1,
            message: "killed",
            exitCode: nil,
            signal: 9,
            at: "w"
        )
        failed.journal.damage = "cut at seq 105"
        failed.paused = true
        var unpublished = child
        unpublished.child?.progress = ChildProgress(done: 45, total: 100, percent: 45, rate: 30.1)
        unpublished.child?.counters = ["raw_written": 120]
        return [
            ("idle, no child", idle, false),
            ("a running child, live", child, true),
            ("an error with a redacted message and a child, live", failed, true),
            ("a child as published, not live", unpublished, false),
        ]
    }

    @Test func theTemplatesBytesAreTheEncodersForEveryKindOfState() throws {
        for state in Self.states() {
            #expect(state.snapshot.lastError?.message.contains("sk-live") != true, "\(state.name): redacted")
            let board = StatusBoard()
            #expect(board.readJSON(now: .now()) == nil, "nothing before the first publication")
            let handle = ReportingHandle()
            handle.report(status: "epoch 3/10", counters: ["b": 2, "a": 1.5], usage: ["tokens": 1.5e9])
            let live = StatusBoard.LiveStage(handle: handle, startNanos: MonotonicClock.nanoseconds() - 12_345_000_000)
            board.publish(state.snapshot, live: state.live ? live : nil)
            // A live child's clock moves every 10 ms: compare a read whose neighbours agree on it.
            var compared = false
            for _ in 0..<1000 where !compared {
                let now = Timestamp.now()
                let before = board.read(now: now)
                let bytes = board.readJSON(now: now)
                let after = board.read(now: now)
                guard let before, let bytes, before == after else { continue }
                compared = true
                #expect(
                    bytes == before.jsonBytes() + [0x0a],
                    "\(state.name): \(String(decoding: bytes, as: UTF8.self))"
                )
                #expect(bytes == (try JSONCoding.encode(before)) + [0x0a], "\(state.name)")
                #expect(try StatusSnapshot(json: bytes.dropLast()) == before, "\(state.name)")
                if state.live {
                    let text = String(decoding: bytes, as: UTF8.self)
                    #expect(text.contains(#""executor":{"executor":"slurm","job_id":"42","state":"RUNNING"}"#))
                    #expect(text.contains(#""counters":{"a":1.5,"b":2}"#) && text.contains(#""status":"epoch 3/10""#))
                    #expect(before.child?.elapsedSeconds ?? 0 >= 12.34, "\(text)")
                }
            }
            #expect(compared, "\(state.name): two reads in a row agreed")
        }
    }

    @Test func aReadRightAfterATransitionShowsIt() async throws {
        let directory = temporaryDirectory()
        let config = makeConfig(
            directory,
            mock: false,
            stages: [.generate: StageConfig(command: ["sleep", "30"], timeout: 60, stopGrace: 1)]
        )
        let engine = Engine(
            config: config,
            environment: ["PATH": "/usr/bin:/bin"],
            launcher: ProcessStageLauncher(logger: Logger(label: "t")),
            notifier: RecordingNotifier(),
            mirror: nil,
            logger: Logger(label: "t")
        )
        try await engine.open()
        await engine.markReady()
        func read() throws -> StatusSnapshot {
            guard let bytes = engine.publishedStatusJSON() else { throw StatusJSONError("no status published") }
            #expect(bytes.last == 0x0a)
            return try StatusSnapshot(json: bytes.dropLast())
        }
        #expect(try read().state == .idle)
        _ = await engine.perform(.start, start: StartRequest(mode: .collect, rounds: 1))
        let started = try read()
        #expect(started.state == .collecting && started.child?.argv == ["sleep", "30"], "\(started)")
        _ = await engine.perform(.pause, start: nil)
        let paused = try read()
        #expect(paused.paused || paused.pauseRequested, "\(paused)")
        _ = await engine.perform(.stop, start: nil)
        #expect(try read().stopping || (try read().state == .idle))
        await engine.shutdown()
    }
}

struct StatusJSONError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
