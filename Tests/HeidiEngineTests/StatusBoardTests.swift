import HeidiAPI
import HeidiCore
import HeidiEngine
import HeidiSupervisor
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Holds the engine actor inside `launch` (synchronously, as a slow fork or a stuck filesystem would) until released,
/// then starts the stage for real.
final class HoldingLauncher: StageLauncher {
    let entered = Atomic<Bool>(false)
    let released = Atomic<Bool>(false)
    private let real = ProcessStageLauncher(logger: Logger(label: "t"))

    func launch(_ launch: StageLaunch, onOutput: @escaping OutputHandler) throws(SpawnError) -> any StageHandle {
        entered.store(true, ordering: .sequentiallyConsistent)
        // Bounded, so a failing test cannot hang the suite.
        let deadline = MonotonicClock.nanoseconds() + 30_000_000_000
        while !released.load(ordering: .sequentiallyConsistent) && MonotonicClock.nanoseconds() < deadline {
            usleep(1000)
        }
        return try real.launch(launch, onOutput: onOutput)
    }
}

@Suite("Status board")
struct StatusBoardTests {
    @Test func statusIsAnsweredWhileTheEngineIsBusyAndNeverShowsHalfAStep() async throws {
        let directory = temporaryDirectory()
        let config = makeConfig(
            directory,
            mock: false,
            stages: [.generate: StageConfig(command: ["sleep", "30"], timeout: 60, stopGrace: 1)]
        )
        let launcher = HoldingLauncher()
        let engine = Engine(
            config: config,
            environment: ["PATH": "/usr/bin:/bin"],
            launcher: launcher,
            notifier: RecordingNotifier(),
            mirror: nil,
            logger: Logger(label: "t")
        )
        try await engine.open()
        await engine.markReady()
        let before = await engine.status()
        #expect(before.state == .idle && before.journal.seq > 0)

        let start = Task { await engine.perform(.start, start: StartRequest(mode: .collect, rounds: 1)) }
        defer { launcher.released.store(true, ordering: .sequentiallyConsistent) }
        #expect(await waitFor { launcher.entered.load(ordering: .sequentiallyConsistent) }, "the engine reached launch")

        // The actor is now stuck inside launch: a status read that waited for it would not return until released.
        let answered = Atomic<Bool>(false)
        let reader = Task {
            let status = await engine.status()
            answered.store(true, ordering: .sequentiallyConsistent)
            return status
        }
        #expect(
            await waitFor(10) { answered.load(ordering: .sequentiallyConsistent) },
            "status answered while the engine is busy"
        )
        launcher.released.store(true, ordering: .sequentiallyConsistent)
        let during = await reader.value
        // The start is one step: the state, its journal events and the launched child are published together when
        // it ends, so a read in the middle sees the state before it, never a run without its stage's child.
        #expect(
            during.state == .idle && during.child == nil && during.journal.seq == before.journal.seq,
            "a read during a step sees the state before it"
        )

        _ = await start.value
        let running = await engine.status()
        #expect(running.state == .collecting && running.runID != nil && running.journal.seq > before.journal.seq)
        #expect(running.child?.argv == ["sleep", "30"])
        let elapsed = running.child?.elapsedSeconds ?? -1
        try await Task.sleep(nanoseconds: 300_000_000)
        #expect(
            (await engine.status().child?.elapsedSeconds ?? -1) > elapsed,
            "elapsed time moves without the engine publishing"
        )
        await engine.shutdown()
        #expect(await engine.status().child == nil, "the stopped stage is gone from status")
    }
}
