import HeidiAPI
import HeidiCore
import HeidiSupervisor
import HeidiSystemd
import Logging
import Synchronization
import Testing

@testable import HeidiEngine

#if canImport(Glibc)
import Glibc
#endif

/// One journal line, the fields these tests look at.
struct JournalLine {
    var type: String
    var level: String
    var message: String
    var value: JSONValue

    func number(_ section: String, _ key: String) -> Double? {
        if case .number(let text)? = value[section]?[key] { return Double(text) }
        return nil
    }
}

func journalLines(_ path: String) throws -> [JournalLine] {
    try FileSystem.read(path).split(separator: 0x0a).map { line in
        let value = try StrictJSONParser.parse(line)
        return JournalLine(
            type: value["event_type"]?.stringValue ?? "?",
            level: value["level"]?.stringValue ?? "?",
            message: value["message"]?.stringValue ?? "",
            value: value
        )
    }
}

/// Governor readings from a script: each `sample()` takes the next one; then the last interval's load repeats.
final class ScriptedSampler: SystemLoadSampler, @unchecked Sendable {
    let window = 0.0
    let holdInterval: Double
    private let state: Mutex<(queue: [SystemLoadSample], last: SystemLoadSample, busyStep: UInt64)>

    /// CPU percentages over 100-tick intervals and memory percentages, one per reading after the baseline.
    init(cpu: [UInt64], memory: [UInt64], holdInterval: Double = 0.01) {
        self.holdInterval = holdInterval
        var list = [SystemLoadSample(busyTicks: 0, totalTicks: 0, memoryTotalKB: 100, memoryAvailableKB: 100)]
        for (index, busy) in cpu.enumerated() {
            let previous = list[list.count - 1]
            list.append(
                SystemLoadSample(
                    busyTicks: previous.busyTicks + busy,
                    totalTicks: previous.totalTicks + 100,
                    memoryTotalKB: 100,
                    memoryAvailableKB: 100 - memory[min(index, memory.count - 1)]
                )
            )
        }
        state = Mutex((list, list[0], cpu.last ?? 0))
    }

    func sample() -> SystemLoadSample {
        state.withLock { state in
            if !state.queue.isEmpty {
                state.last = state.queue.removeFirst()
            } else {
                state.last.busyTicks += state.busyStep
                state.last.totalTicks += 100
            }
            return state.last
        }
    }
}

/// Records what would go to journald.
final class RecordingMirror: EventMirror, @unchecked Sendable {
    let lines = Mutex<[String]>([])
    func event(_ event: WrittenEvent) {}
    func childLine(_ line: OutputLine, stage: Stage, round: Int, runID: String?, pid: Int32) {
        lines.withLock { $0.append(line.text) }
    }
}

func shell(_ script: String, retries: Int = 0, noRetry: [Int] = [], timeout: Double = 30) -> StageConfig {
    StageConfig(
        command: ["/bin/sh", "-c", script],
        timeout: timeout,
        stopGrace: 1,
        retries: retries,
        retryBackoff: 0.02,
        retryBackoffMax: 0.05,
        noRetryExitCodes: noRetry
    )
}

/// An opened engine with a run started.
func startedEngine(
    _ config: HeidiConfig,
    _ request: StartRequest,
    sampler: any SystemLoadSampler = ProcSystemSampler(),
    mirror: (any EventMirror)? = nil,
    journaldLimits: JournaldForwarder.Limits = .init()
) async throws -> Engine {
    let engine = makeEngine(config, mirror: mirror, sampler: sampler, journaldLimits: journaldLimits)
    try await engine.open()
    _ = try await engine.perform(.start, start: request).get()
    return engine
}

/// A config for governor tests: real stages (`true`), the given limits.
func governedConfig(cpu: Double = 100, memory: Double = 100, maxWait: Double = 3600) -> HeidiConfig {
    var config = makeConfig(temporaryDirectory(), mock: false)
    config.maxCPUPercent = cpu
    config.maxMemoryPercent = memory
    config.maxWait = maxWait
    return config
}

@Suite("Engine supervision: retries, governor, telemetry, output", .serialized)
struct EngineSupervisionTests {
    @Test func aFailingStageIsRetriedWithBackoffAndEachAttemptIsRecorded() async throws {
        let directory = temporaryDirectory()
        let counter = directory + "/attempts"
        let flaky = shell(
            "n=$(cat \(counter) 2>/dev/null || echo 0); n=$((n+1)); echo $n > \(counter); echo attempt $n; [ $n -ge 3 ] || exit 3",
            retries: 2
        )
        let config = makeConfig(directory, mock: false, stages: [.generate: flaky])
        let engine = try await startedEngine(config, StartRequest(mode: .full, rounds: 1))
        // Three attempts and two backoffs: patient, for a loaded machine.
        #expect(await waitFor(90) { await engine.status().state == .idle })
        let lines = try journalLines(config.journalPath).filter { $0.value["stage"]?.stringValue == "generate" }
        #expect(
            lines.map(\.type) == [
                "stage_start", "stage_end", "stage_retry", "stage_start", "stage_end", "stage_retry",
                "stage_start", "stage_end",
            ]
        )
        let retries = lines.filter { $0.type == "stage_retry" }
        #expect(
            retries[0].message.hasPrefix("generate attempt 2/3 in ")
                && retries[0].message.contains("attempt 1 ended: exit 3")
        )
        #expect(
            lines[1].level == "warn" && lines[1].message.contains("(attempt 1/3)")
                && lines[1].message.contains("will retry")
        )
        #expect(lines.last?.level == "info" && lines.last?.message.contains("finished (attempt 3/3)") == true)
        let log = String(
            decoding: try FileSystem.read(
                "\(config.runDirectory(try #require(await engine.status().runID)))/logs/round-1/generate.log"
            ),
            as: UTF8.self
        )
        #expect(
            log.contains("attempt 1\n") && log.contains("heidid: generate attempt 3/3") && log.contains("attempt 3\n")
        )
        #expect(await engine.metricsText().contains("heidi_stage_retries_total{stage=\"generate\"} 2"))
        await engine.shutdown()
    }

    @Test func listedExitCodesAreNotRetried() async throws {
        let directory = temporaryDirectory()
        let config = makeConfig(
            directory,
            mock: false,
            stages: [.generate: shell("echo usage error >&2; exit 2", retries: 3, noRetry: [2])]
        )
        let engine = try await startedEngine(config, StartRequest(rounds: 1))
        #expect(await waitFor { await engine.status().state == .error })
        let types = try eventTypes(config.journalPath)
        #expect(types.filter { $0 == "stage_start" }.count == 1 && !types.contains("stage_retry"))
        #expect(await engine.status().lastError?.exitCode == 2)
        await engine.shutdown()
    }

    @Test func theGovernorHoldsWithOneEventAtStartAndOneAtEnd() async throws {
        let config = governedConfig(cpu: 90, memory: 90)
        // Busy for four checks (CPU, then memory), then calm.
        let sampler = ScriptedSampler(cpu: [95, 99, 10, 10, 10], memory: [10, 10, 95, 96, 10])
        let engine = try await startedEngine(config, StartRequest(mode: .collect, rounds: 1), sampler: sampler)
        #expect(await waitFor { [.validating, .idle].contains(await engine.status().state) })
        let lines = try journalLines(config.journalPath)
        let throttled = lines.filter { $0.type == "pipeline_throttled" }
        #expect(throttled.count == 2, "\(throttled.map(\.message))")
        #expect(
            throttled.first?.level == "warn" && throttled.first?.message.contains("CPU 95% >= max_cpu_pct 90%") == true
        )
        #expect(throttled.last?.level == "info" && throttled.last?.message.contains("may start after") == true)
        let index = lines.firstIndex { $0.type == "stage_start" } ?? -1
        #expect(
            lines.lastIndex { $0.type == "pipeline_throttled" } ?? 99 < index,
            "the stage started after the hold ended"
        )
        #expect(await engine.metricsText().contains("heidi_governor_holds_total 1"))
        await engine.shutdown()
    }

    @Test func theGovernorFailsTheStageAfterMaxWait() async throws {
        let config = governedConfig(memory: 80, maxWait: 0.1)
        let engine = try await startedEngine(
            config,
            StartRequest(rounds: 1),
            sampler: ScriptedSampler(cpu: [5], memory: [97])
        )
        #expect(await waitFor { await engine.status().state == .error })
        let lines = try journalLines(config.journalPath)
        #expect(lines.filter { $0.type == "pipeline_throttled" }.map(\.level) == ["warn", "error"])
        #expect(!lines.contains { $0.type == "stage_start" })
        #expect(await engine.status().lastError?.message.contains("held by the resource governor") == true)
        await engine.shutdown()
    }

    /// Checks every 0.5 s against max_wait 1.2 s: the stage used to fail at the check at 1.0 s, since the next one
    /// would fall after max_wait; now the last check is at max_wait.
    @Test func theGovernorHoldsForTheWholeMaxWaitBeforeFailingTheStage() async throws {
        let config = governedConfig(memory: 80, maxWait: 1.2)
        let started = MonotonicClock.nanoseconds()
        let engine = try await startedEngine(
            config,
            StartRequest(rounds: 1),
            sampler: ScriptedSampler(cpu: [5], memory: [97], holdInterval: 0.5)
        )
        #expect(await waitFor { await engine.status().state == .error })
        let elapsed = Double(MonotonicClock.nanoseconds() - started) / 1e9
        #expect(elapsed >= 1.2, "the held stage failed after \(elapsed) s, before limits.max_wait 1.2 s")
        #expect(elapsed < 1.2 + 1.5, "and not much later: \(elapsed) s")
        let message = await engine.status().lastError?.message ?? ""
        #expect(message.contains("held by the resource governor") && message.contains("limits.max_wait"), "\(message)")
        await engine.shutdown()
    }

    @Test func stopWhileHeldEndsTheRunWithoutStartingTheStage() async throws {
        let config = governedConfig(cpu: 50)
        let engine = try await startedEngine(
            config,
            StartRequest(rounds: 1),
            sampler: ScriptedSampler(cpu: [80], memory: [10], holdInterval: 0.05)
        )
        #expect(await waitFor { (try? eventTypes(config.journalPath).contains("pipeline_throttled")) ?? false })
        _ = try await engine.perform(.stop, start: nil).get()
        #expect(await waitFor { await engine.status().state == .idle })
        let types = try eventTypes(config.journalPath)
        #expect(!types.contains("stage_start") && types.last == "pipeline_stop")
        #expect(types.filter { $0 == "pipeline_throttled" }.count == 2)
        await engine.shutdown()
    }

    @Test func stageEndCarriesTelemetryAndMetricsAreValidPrometheus() async throws {
        let directory = temporaryDirectory()
        let work =
            #"python3 -c 'import time"# + "\n" + #"t = time.process_time()"# + "\n"
            + #"while time.process_time() - t < 0.15: pass"# + "\n" + #"for i in range(1000): print("%069d" % i)'"#
        let config = makeConfig(directory, mock: false, stages: [.generate: shell(work)])
        let engine = try await startedEngine(config, StartRequest(mode: .collect, rounds: 1))
        #expect(await waitFor { await engine.status().state == .idle })
        let end = try #require(
            try journalLines(config.journalPath).first {
                $0.type == "stage_end" && $0.value["stage"]?.stringValue == "generate"
            }
        )
        #expect(end.number("usage_delta", "wall_ms") ?? 0 >= 150)
        let cpu = (end.number("usage_delta", "cpu_user_ms") ?? 0) + (end.number("usage_delta", "cpu_sys_ms") ?? 0)
        #expect(cpu >= 140, "the child's 150 ms of CPU: \(end.value["usage_delta"] ?? .null)")
        #expect(end.number("usage_delta", "max_rss_kb") ?? 0 > 1000)
        #expect(
            end.number("counters_delta", "output_lines") == 1000
                && end.number("counters_delta", "output_bytes") == 70_000
        )
        let metrics = await engine.metricsText()
        try PrometheusFormat.validate(metrics)
        for expected in [
            "heidi_stage_runs_total{outcome=\"success\",stage=\"generate\"} 1",
            "heidi_stage_output_lines_total{stage=\"generate\"} 1000",
            "heidi_stage_output_bytes_total{stage=\"generate\"} 70000",
            "heidi_stage_duration_seconds_count{stage=\"generate\"} 1",
            "heidi_journald_lines_dropped_total 0",
        ] {
            #expect(metrics.contains(expected + "\n"), "missing \(expected)")
        }
        for gauge in [
            "heidi_process_resident_memory_bytes", "heidi_process_open_fds", "heidi_process_cpu_seconds_total",
        ] {
            let value = metrics.split(separator: "\n").first { $0.hasPrefix(gauge + " ") }.flatMap {
                Double($0.split(separator: " ")[1])
            }
            #expect((value ?? 0) > 0, "\(gauge) = \(value ?? -1)")
        }
        await engine.shutdown()
    }

    @Test func journaldGetsARateLimitedShareAndANoticeTheLogFileGetsEverything() async throws {
        let directory = temporaryDirectory()
        let config = makeConfig(directory, mock: false, stages: [.generate: shell("seq 1 5000")])
        let mirror = RecordingMirror()
        let engine = try await startedEngine(
            config,
            StartRequest(mode: .collect, rounds: 1),
            mirror: mirror,
            journaldLimits: .init(burst: 200, perSecond: 0, queueCapacity: 10_000)
        )
        #expect(await waitFor { await engine.status().state == .idle })
        #expect(await waitFor { mirror.lines.withLock { $0.count } >= 201 })
        let lines = mirror.lines.withLock { $0 }
        #expect(lines.count == 201 && Array(lines.prefix(200)) == (1...200).map(String.init))
        #expect(lines.last?.contains("4800 lines of generate output not sent to journald") == true)
        let end = try #require(
            try journalLines(config.journalPath).first {
                $0.type == "stage_end" && $0.value["stage"]?.stringValue == "generate"
            }
        )
        #expect(
            end.number("counters_delta", "journald_lines_dropped") == 4800
                && end.number("counters_delta", "output_lines") == 5000
        )
        await engine.shutdown()
    }

    @Test func aFullDiskIsReportedInTheStageEndAndTheRunGoesOn() async throws {
        let directory = temporaryDirectory()
        let gate = directory + "/gate"
        let config = makeConfig(
            directory,
            mock: false,
            stages: [
                .generate: shell("while [ ! -e \(gate) ]; do sleep 0.02; done"), .validate: shell("echo hello"),
            ]
        )
        let engine = makeEngine(config)
        try await engine.open()
        let runID = try #require(
            try await engine.perform(.start, start: StartRequest(mode: .collect, rounds: 1)).get().runID
        )
        // validate's log file will be /dev/full: every write fails with ENOSPC.
        let logDirectory = config.runDirectory(runID) + "/logs/round-1"
        try FileSystem.createDirectories(logDirectory)
        #expect(symlink("/dev/full", logDirectory + "/validate.log") == 0)
        try FileSystem.writeAtomically(gate, [])
        #expect(await waitFor { await engine.status().state == .idle })
        let end = try #require(
            try journalLines(config.journalPath).first {
                $0.type == "stage_end" && $0.value["stage"]?.stringValue == "validate"
            }
        )
        #expect(
            end.message.contains("log file incomplete (6 bytes lost")
                && end.message.contains("No space left on device"),
            "\(end.message)"
        )
        #expect(try eventTypes(config.journalPath).contains("round_collected"), "the run went on")
        await engine.shutdown()
    }

    @Test func supervisionIsReportedInStatusAndTheStartEvent() async throws {
        let directory = temporaryDirectory()
        let config = makeConfig(directory, mock: true)
        let reported = Supervision(
            mechanism: "cgroup2+subreaper+pgroup",
            cgroups: nil,
            detail: "stages run in cgroups under /x"
        )
        let engine = makeEngine(config, supervision: reported)
        try await engine.open()
        #expect(await engine.status().supervision == "cgroup2+subreaper+pgroup")
        #expect(
            try journalLines(config.journalPath).first?.message.contains("supervision cgroup2+subreaper+pgroup") == true
        )
        await engine.shutdown()
        let real = makeEngine(makeConfig(temporaryDirectory(), mock: true))
        #expect(await real.status().supervision.hasSuffix("subreaper+pgroup"))
    }
}

/// A strict reader of the Prometheus text format: HELP and TYPE before every family's samples, valid names and
/// labels, numeric values.
enum PrometheusFormat {
    struct Problem: Error, CustomStringConvertible { let description: String }

    static func validate(_ text: String) throws {
        var typed: [String: String] = [:]
        let name = #/^[a-zA-Z_:][a-zA-Z0-9_:]*$/#
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# HELP ") { continue }
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, ["counter", "gauge", "summary", "histogram"].contains(parts[3]),
                    parts[2].wholeMatch(of: name) != nil
                else { throw Problem(description: "bad TYPE line: \(line)") }
                typed[String(parts[2])] = String(parts[3])
                continue
            }
            guard let space = line.lastIndex(of: " "), Double(line[line.index(after: space)...]) != nil else {
                throw Problem(description: "sample without a numeric value: \(line)")
            }
            let series = line[..<space]
            let metric = series.prefix { $0 != "{" }
            guard metric.wholeMatch(of: name) != nil else { throw Problem(description: "bad metric name: \(line)") }
            let family = ["_sum", "_count", "_bucket"].reduce(String(metric)) { name, suffix in
                name.hasSuffix(suffix) && typed[String(name.dropLast(suffix.count))] != nil
                    ? String(name.dropLast(suffix.count)) : name
            }
            guard typed[family] != nil else { throw Problem(description: "sample before its TYPE: \(line)") }
            if series.contains("{") {
                guard series.hasSuffix("}"), series.contains(#/\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)+\}$/#)
                else {
                    throw Problem(description: "bad labels: \(line)")
                }
            }
        }
    }
}
