#if canImport(Glibc)
import Glibc
#endif
import HeidiCore
import HeidiSupervisor

extension Engine {
    /// The status object (SPEC §5).
    func snapshot() -> StatusSnapshot {
        let now = clock.now()
        var child: ChildStatus?
        if let current {
            child = ChildStatus(
                pid: current.handle.pid, pgid: current.handle.pid, argv: current.argv, startedAt: current.startedAt.description,
                elapsedSeconds: Double(Int(Double(MonotonicClock.nanoseconds() - current.startNanos) / 1e7)) / 100,
                timeoutSeconds: current.timeout, status: current.progress, startTicks: current.handle.startTicks)
        }
        var lastError = state.lastError
        if lastError == nil, let storageFailure {
            lastError = PipelineFailure(stage: nil, round: state.round, message: storageFailure, exitCode: nil, signal: nil,
                                        at: now.description)
        }
        return StatusSnapshot(
            version: Self.version, pid: getpid(), startedAt: startedAt.description, state: state.phase, mode: state.mode,
            runID: state.runID, round: state.round, rounds: state.rounds, stage: state.stage?.rawValue, paused: state.paused,
            pauseRequested: state.pauseRequested, trainNowPending: state.trainNowPending,
            awaitingTrainNow: state.awaitingTrainNow, stopping: state.stopping, child: child, lastError: lastError,
            journal: JournalHead(path: config.journalPath, seq: journal?.lastSeq ?? 0, head: journal?.headHash ?? SHA256.zeroHex),
            supervision: supervision, updatedAt: now.description)
    }

    /// systemd's one-line status: `FINALIZING (train) round 2/3 run_… child 5678 12m`.
    func statusLine() -> String {
        var parts = [state.phase.rawValue]
        if let stage = state.stage { parts.append("(\(stage.rawValue))") }
        if state.runID != nil { parts.append("round \(state.round)/\(state.rounds)") }
        if let runID = state.runID { parts.append(runID) }
        if state.paused { parts.append("paused") }
        if state.awaitingTrainNow { parts.append("waiting for train-now") }
        if let current {
            parts.append("child \(current.handle.pid) \(Units.formatDuration(Double(MonotonicClock.nanoseconds() - current.startNanos) / 1e9))")
            if let progress = current.progress { parts.append("– \(progress)") }
        }
        if let error = state.lastError, state.phase == .error { parts.append("– \(error.stage ?? "?") failed") }
        return parts.joined(separator: " ")
    }

    /// Prometheus text exposition (minimal here; deepened with stage telemetry later).
    func metricsText() -> String {
        var out = ""
        func line(_ text: String) { out += text + "\n" }
        line("# HELP heidi_up 1 while heidid is running.")
        line("# TYPE heidi_up gauge")
        line("heidi_up 1")
        line("# HELP heidi_pipeline_state 1 for the current pipeline state.")
        line("# TYPE heidi_pipeline_state gauge")
        for phase in PipelinePhase.allCases { line("heidi_pipeline_state{state=\"\(phase.rawValue)\"} \(phase == state.phase ? 1 : 0)") }
        line("# HELP heidi_round The current round of the run.")
        line("# TYPE heidi_round gauge")
        line("heidi_round \(state.round)")
        line("# HELP heidi_journal_seq The seq of the last journal line.")
        line("# TYPE heidi_journal_seq counter")
        line("heidi_journal_seq \(journal?.lastSeq ?? 0)")
        line("# HELP heidi_events_total Journal events written since start, by type.")
        line("# TYPE heidi_events_total counter")
        for (type, count) in metrics.events.sorted(by: { $0.key < $1.key }) { line("heidi_events_total{type=\"\(type)\"} \(count)") }
        line("# HELP heidi_stage_runs_total Stage runs since start, by stage and outcome.")
        line("# TYPE heidi_stage_runs_total counter")
        for (key, count) in metrics.stageRuns.sorted(by: { $0.key < $1.key }) {
            line("heidi_stage_runs_total{stage=\"\(key.stage)\",outcome=\"\(key.outcome)\"} \(count)")
        }
        line("# HELP heidi_stage_duration_seconds Wall time of finished stages.")
        line("# TYPE heidi_stage_duration_seconds summary")
        for (stage, sum) in metrics.stageSeconds.sorted(by: { $0.key < $1.key }) {
            line("heidi_stage_duration_seconds_sum{stage=\"\(stage)\"} \(sum)")
            line("heidi_stage_duration_seconds_count{stage=\"\(stage)\"} \(metrics.stageCounts[stage] ?? 0)")
        }
        line("# HELP heidi_process_resident_memory_bytes Resident memory of heidid.")
        line("# TYPE heidi_process_resident_memory_bytes gauge")
        line("heidi_process_resident_memory_bytes \(EngineMetrics.residentBytes())")
        return out
    }
}

/// Counters the engine keeps for `/metrics`.
struct EngineMetrics {
    struct StageOutcome: Hashable, Comparable {
        var stage: String
        var outcome: String
        static func < (a: StageOutcome, b: StageOutcome) -> Bool { (a.stage, a.outcome) < (b.stage, b.outcome) }
    }

    var events: [String: Int] = [:]
    var stageRuns: [StageOutcome: Int] = [:]
    var stageSeconds: [String: Double] = [:]
    var stageCounts: [String: Int] = [:]

    mutating func count(_ draft: EventDraft) { events[draft.type.rawValue, default: 0] += 1 }

    mutating func stageEnded(_ stage: Stage, outcome: String, seconds: Double) {
        stageRuns[StageOutcome(stage: stage.rawValue, outcome: outcome), default: 0] += 1
        stageSeconds[stage.rawValue, default: 0] += seconds
        stageCounts[stage.rawValue, default: 0] += 1
    }

    static func residentBytes() -> Int {
        guard let bytes = try? FileSystem.read("/proc/self/statm") else { return 0 }
        let fields = String(decoding: bytes, as: UTF8.self).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
