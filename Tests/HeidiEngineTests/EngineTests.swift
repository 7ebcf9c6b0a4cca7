import HeidiAPI
import HeidiCore
import HeidiEngine
import HeidiJournal
import HeidiSupervisor
import HeidiSystemd
import HeidiTestSupport
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Records sd_notify messages.
final class RecordingNotifier: ServiceNotifier, @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var stored: [String] = []
    init() { pthread_mutex_init(&mutex, nil) }
    func notify(_ message: String) {
        pthread_mutex_lock(&mutex)
        stored.append(message)
        pthread_mutex_unlock(&mutex)
    }
    var messages: [String] {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return stored
    }
}

func temporaryDirectory() -> String { Scratch.directory("heidi-engine") }

func makeConfig(_ directory: String, mock: Bool, stages: [Stage: StageConfig] = [:]) -> HeidiConfig {
    var config = HeidiConfig(stateDir: directory + "/state", runtimeDir: directory)
    config.mockSubprocesses = mock
    config.journalFsync = .never
    config.repoRoot = directory
    // The real governor would hold stages while other tests load the machine; governor tests set their own limits.
    config.maxCPUPercent = 100
    config.maxMemoryPercent = 100
    for stage in Stage.allCases {
        config.stages[stage] = StageConfig(command: ["true"], timeout: 30, stopGrace: 1, allowFailure: stage == .eval)
    }
    config.stages.merge(stages) { $1 }
    return config
}

func makeEngine(
    _ config: HeidiConfig,
    notifier: RecordingNotifier = RecordingNotifier(),
    mirror: (any EventMirror)? = nil,
    sampler: any SystemLoadSampler = ProcSystemSampler(),
    journaldLimits: JournaldForwarder.Limits = .init(),
    supervision: Supervision? = nil
) -> Engine {
    Engine(
        config: config,
        environment: ["PATH": "/usr/bin:/bin"],
        launcher: ProcessStageLauncher(logger: Logger(label: "t")),
        notifier: notifier,
        mirror: mirror,
        logger: Logger(label: "t"),
        supervision: supervision,
        sampler: sampler,
        journaldLimits: journaldLimits
    )
}

func eventTypes(_ path: String) throws -> [String] {
    try FileSystem.read(path).split(separator: 0x0a).map { line in
        (try? StrictJSONParser.parse(line))?["event_type"]?.stringValue ?? "?"
    }
}

/// Polls `condition` until it holds or `seconds` pass. Generous: the whole suite runs in one process, next to
/// compiler-heavy validation tests, on two cores (and CI machines may be three times slower).
func waitFor(_ seconds: Double = 30, _ condition: () async -> Bool) async -> Bool {
    let deadline = MonotonicClock.nanoseconds() + UInt64(seconds * 1e9)
    while MonotonicClock.nanoseconds() < deadline {
        if await condition() { return true }
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
    return false
}

@Suite("Engine", .serialized)
struct EngineTests {
    @Test func mockedRunCompletesAndIsJournaled() async throws {
        let directory = temporaryDirectory()
        let config = makeConfig(directory, mock: true)
        let notifier = RecordingNotifier()
        let engine = makeEngine(config, notifier: notifier)
        try await engine.open()
        await engine.markReady()
        #expect(notifier.messages.first?.hasPrefix("READY=1") == true)
        let result = await engine.perform(.start, start: StartRequest(mode: .full, rounds: 3))
        let accepted = try result.get()
        #expect(accepted.runID?.hasPrefix("run_") == true)
        let status = await engine.status()
        #expect(status.state == .idle && status.round == 3)
        let types = try eventTypes(config.journalPath)
        #expect(types.filter { $0 == "stage_start" }.count == 12)
        #expect(types.last == "pipeline_complete")
        #expect(notifier.messages.contains { $0.hasPrefix("STATUS=COLLECTING (generate) round 1/3") })
        // A second start right away is a new run with a new id.
        let second = try await engine.perform(.start, start: StartRequest(rounds: 1)).get()
        #expect(second.runID != accepted.runID)
        await engine.shutdown()
        #expect(try eventTypes(config.journalPath).last == "daemon_stop")
        #expect(try JournalVerifier.verify(files: [config.journalPath]).outcome == .intact)
    }

    @Test func failingStageGoesToErrorWithAnExcerptAndResetClearsIt() async throws {
        let directory = temporaryDirectory()
        let failing = StageConfig(
            command: ["/bin/sh", "-c", "echo 'Traceback: boom' >&2; exit 3"],
            timeout: 30,
            stopGrace: 1
        )
        let config = makeConfig(directory, mock: false, stages: [.validate: failing])
        let engine = makeEngine(config)
        try await engine.open()
        _ = try await engine.perform(.start, start: StartRequest(mode: .full, rounds: 1)).get()
        #expect(await waitFor { await engine.status().state == .error })
        let status = await engine.status()
        let error = try #require(status.lastError)
        #expect(error.stage == "validate" && error.exitCode == 3 && error.message.contains("Traceback: boom"))
        let refusal = await engine.perform(.trainNow, start: nil)
        guard case .failure(let body) = refusal else {
            Issue.record("train-now accepted in ERROR")
            return
        }
        #expect(body.error.code == .invalidState)
        _ = try await engine.perform(.reset, start: nil).get()
        #expect(await engine.status().state == .idle)
        let log = try FileSystem.read("\(config.runDirectory(status.runID ?? ""))/logs/round-1/validate.log")
        #expect(String(decoding: log, as: UTF8.self).contains("Traceback: boom"))
        await engine.shutdown()
    }

    @Test func allowedEvalFailuresShowInStatusAndMakeTheCompletionAWarning() async throws {
        let directory = temporaryDirectory()
        let failingEval = StageConfig(
            command: ["/bin/sh", "-c", "echo 'eval: no GPU' >&2; exit 4"],
            timeout: 30,
            stopGrace: 1,
            allowFailure: true
        )
        let config = makeConfig(directory, mock: false, stages: [.eval: failingEval])
        let engine = makeEngine(config)
        try await engine.open()
        _ = try await engine.perform(.start, start: StartRequest(mode: .full, rounds: 2)).get()
        #expect(
            await waitFor {
                await engine.status().state == .idle
                    && (try? eventTypes(config.journalPath).last) == "pipeline_complete"
            }
        )
        let status = await engine.status()
        #expect(status.lastError == nil, "an allowed failure never enters ERROR")
        let warning = try #require(status.lastWarning, "status shows the last allowed failure")
        #expect(
            warning.stage == "eval" && warning.round == 2 && warning.exitCode == 4
                && warning.message.contains("eval: no GPU")
        )
        let json = String(decoding: status.jsonBytes(), as: UTF8.self)
        #expect(json.contains(#""last_warning":{"at":"#), "\(json)")
        let complete = try #require(try journalLines(config.journalPath).last)
        #expect(complete.type == "pipeline_complete" && complete.level == "warn", "\(complete)")
        #expect(complete.message.contains("2 allowed stage failures"), "\(complete.message)")
        await engine.shutdown()
    }

    @Test func theJournalStaysValidWhateverAChildPrints() async throws {
        let directory = temporaryDirectory()
        // Quotes, backslashes, control characters, invalid UTF-8, ANSI colours, a secret, and a 100 KiB line.
        let nasty =
            #"printf '"quoted" \\back\001\033[31mred\033[0m \377\376 sk-ABCDEFGHIJKLMNOPQRSTUVWX\n'; head -c 100000 /dev/zero | tr '\0' '"'; exit 9"#
        let config = makeConfig(
            directory,
            mock: false,
            stages: [.generate: StageConfig(command: ["/bin/sh", "-c", nasty], timeout: 30, stopGrace: 1)]
        )
        let engine = makeEngine(config)
        try await engine.open()
        _ = try await engine.perform(.start, start: StartRequest(rounds: 1)).get()
        #expect(await waitFor { await engine.status().state == .error })
        await engine.shutdown()
        let report = try JournalVerifier.verify(files: [config.journalPath])
        #expect(report.outcome == .intact)
        let text = String(decoding: try FileSystem.read(config.journalPath), as: UTF8.self)
        #expect(
            text.contains("[OPENAI_KEY]") && !text.contains("ABCDEFGHIJKLMNOPQRSTUVWX"),
            "secrets never reach the journal"
        )
        #expect(!text.contains(#"\u001b[31m"#), "ANSI escapes are stripped")
        let log = String(
            decoding: try FileSystem.read(
                "\(config.runDirectory(try #require(await engine.status().runID)))/logs/round-1/generate.log"
            ),
            as: UTF8.self
        )
        #expect(log.contains("[OPENAI_KEY]") && !log.contains("ABCDEFGHIJKLMNOPQRSTUVWX"), "nor the stage log")
        #expect(log.contains("…[line cut at 16 KiB]"))
    }

    @Test func stopInterruptsTheStageAndNothingSurvives() async throws {
        let directory = temporaryDirectory()
        let slow = StageConfig(
            command: ["/bin/sh", "-c", "trap '' TERM; sleep 60 & sleep 60"],
            timeout: 60,
            stopGrace: 0.5
        )
        let config = makeConfig(directory, mock: false, stages: [.generate: slow])
        let engine = makeEngine(config)
        try await engine.open()
        _ = try await engine.perform(.start, start: StartRequest(rounds: 1)).get()
        let child = try #require(await engine.status().child)
        _ = try await engine.perform(.stop, start: nil).get()
        #expect(await engine.status().stopping)
        #expect(await waitFor { await engine.status().state == .idle })
        #expect(!ProcessTable.all().contains { $0.group == child.pgid && !$0.isZombie })
        let types = try eventTypes(config.journalPath)
        #expect(types.suffix(2) == ["stage_end", "pipeline_stop"])
        await engine.shutdown()
    }

    @Test func restartRecoveryKillsLeftoversAndResumesTheStage() async throws {
        let directory = temporaryDirectory()
        var config = makeConfig(directory, mock: true)
        // A previous daemon left a running stage: a real process group recorded in state.json.
        let leftover = try ChildProcess.spawn(
            LaunchSpec(argv: ["/bin/sleep", "60"], environment: [:], workingDirectory: nil)
        )
        let first = makeEngine(config)
        try await first.open()
        await first.shutdown()
        let statePath = config.stateFilePath
        var state = try #require(try StateFile.read(from: statePath))
        state.status.state = .finalizing
        state.status.stage = "train"
        state.status.runID = "run_prev"
        state.status.round = 1
        state.status.rounds = 1
        state.stageActive = true
        state.status.child = ChildStatus(
            pid: leftover.pid,
            pgid: leftover.pid,
            argv: ["sleep"],
            startedAt: "t",
            elapsedSeconds: 1,
            timeoutSeconds: 60,
            status: nil,
            startTicks: leftover.startTicks
        )
        try state.write(to: statePath)

        config.recovery = .resume
        let second = makeEngine(config)
        try await second.open()
        #expect(
            await waitFor(5) { ProcessTable.info(leftover.pid)?.isZombie ?? true },
            "the leftover stage process was killed"
        )
        let types = try eventTypes(config.journalPath)
        #expect(types.contains("run_recovered"))
        // resume: the interrupted train stage ran again (mocked), then eval, then the run completed.
        #expect(
            Array(types.suffix(5)) == ["run_recovered", "stage_start", "stage_end", "stage_start", "stage_end"]
                || types.last == "pipeline_complete"
        )
        #expect(await second.status().state == .idle)
        await second.shutdown()
        #expect(try JournalVerifier.verify(files: [config.journalPath]).outcome == .intact)
        var status: Int32 = 0
        waitpid(leftover.pid, &status, 0)
    }
}
