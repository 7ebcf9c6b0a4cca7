import HeidiCore
import HeidiSupervisor

#if canImport(Glibc)
import Glibc
#endif

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
    var lastSeconds: [String: Double] = [:]
    var retries: [String: Int] = [:]
    var outputLines: [String: Int] = [:]
    var outputBytes: [String: Int] = [:]
    var cpuSeconds: [String: Double] = [:]
    var lastMaxRSSBytes: [String: Double] = [:]
    var journaldDropped = 0
    /// Sums of what stages reported on their progress channels, by stage and name.
    var reportedCounters: [String: [String: Double]] = [:]
    var reportedUsage: [String: [String: Double]] = [:]
    /// Most distinct names kept per family across all stages (stages choose the names).
    static let maxReportedNames = 1024
    var governorHolds = 0
    var governorHoldSeconds = 0.0

    mutating func count(_ draft: EventDraft) { events[draft.type.rawValue, default: 0] += 1 }

    /// One stage attempt ended (`result` is nil when nothing ran: mocked, or it could not start).
    mutating func stageEnded(_ stage: Stage, outcome: String, seconds: Double, result: StageRunResult? = nil) {
        let name = stage.rawValue
        stageRuns[StageOutcome(stage: name, outcome: outcome), default: 0] += 1
        stageSeconds[name, default: 0] += seconds
        stageCounts[name, default: 0] += 1
        lastSeconds[name] = seconds
        guard let result else { return }
        outputLines[name, default: 0] += Int(result.outputLines)
        outputBytes[name, default: 0] += Int(result.outputBytes)
        let usage = Engine.usageDelta(result)
        cpuSeconds[name, default: 0] += ((usage["cpu_user_ms"] ?? 0) + (usage["cpu_sys_ms"] ?? 0)) / 1000
        lastMaxRSSBytes[name] = (usage["max_rss_kb"] ?? 0) * 1024
        if let progress = result.progress {
            Self.add(progress.counters, to: &reportedCounters, stage: name)
            Self.add(progress.usage, to: &reportedUsage, stage: name)
        }
    }

    private static func add(_ values: [String: Double], to totals: inout [String: [String: Double]], stage: String) {
        var known = totals.values.reduce(0) { $0 + $1.count }
        for (key, value) in values {
            if totals[stage]?[key] == nil {
                guard known < maxReportedNames else { continue }
                known += 1
            }
            totals[stage, default: [:]][key, default: 0] += value
        }
    }

    mutating func stageRetried(_ stage: Stage) { retries[stage.rawValue, default: 0] += 1 }

    mutating func governorHeld(seconds: Double) {
        governorHolds += 1
        governorHoldSeconds += seconds
    }

    /// The stage families; `live` adds the running stage's output so far, so rates move while it runs.
    func write(to out: inout PrometheusText, live: (stage: String, output: StageOutputSink, progress: StageProgress?)?)
    {
        out.family("heidi_stage_runs_total", .counter, "Stage attempts since start, by stage and outcome.") { family in
            for (key, count) in stageRuns.sorted(by: { $0.key < $1.key }) {
                family.sample(Double(count), ["stage": key.stage, "outcome": key.outcome])
            }
        }
        out.family("heidi_stage_duration_seconds", .summary, "Wall time of finished stage attempts.") { family in
            for (stage, sum) in stageSeconds.sorted(by: { $0.key < $1.key }) {
                family.sample(sum, ["stage": stage], suffix: "_sum")
                family.sample(Double(stageCounts[stage] ?? 0), ["stage": stage], suffix: "_count")
            }
        }
        Self.perStage(
            &out,
            "heidi_stage_last_duration_seconds",
            .gauge,
            "Wall time of the last finished attempt.",
            lastSeconds
        )
        Self.perStage(
            &out,
            "heidi_stage_retries_total",
            .counter,
            "Stage restarts after a failed attempt.",
            retries.mapValues(Double.init)
        )
        var lines = outputLines.mapValues(Double.init)
        var bytes = outputBytes.mapValues(Double.init)
        if let live {
            lines[live.stage, default: 0] += Double(live.output.lines.load(ordering: .relaxed))
            bytes[live.stage, default: 0] += Double(live.output.bytes.load(ordering: .relaxed))
        }
        Self.perStage(
            &out,
            "heidi_stage_output_lines_total",
            .counter,
            "Output lines of stages (running ones included).",
            lines
        )
        Self.perStage(&out, "heidi_stage_output_bytes_total", .counter, "Output bytes of stages as logged.", bytes)
        Self.perStage(
            &out,
            "heidi_stage_cpu_seconds_total",
            .counter,
            "User and system CPU time of finished stage trees.",
            cpuSeconds
        )
        Self.perStage(
            &out,
            "heidi_stage_max_rss_bytes",
            .gauge,
            "Max RSS of the last finished attempt.",
            lastMaxRSSBytes
        )
        var counters = reportedCounters
        var usage = reportedUsage
        if let live, let progress = live.progress {
            Self.add(progress.counters, to: &counters, stage: live.stage)
            Self.add(progress.usage, to: &usage, stage: live.stage)
        }
        Self.perName(
            &out,
            "heidi_stage_reported_counter_total",
            "X_HEIDI_COUNTERS sums stages sent (running ones included).",
            counters
        )
        Self.perName(
            &out,
            "heidi_stage_reported_usage_total",
            "X_HEIDI_USAGE sums stages sent (running ones included).",
            usage
        )
        out.family(
            "heidi_journald_lines_dropped_total",
            .counter,
            "Child output lines not forwarded to journald (rate limit or backlog)."
        ) {
            $0.sample(Double(journaldDropped))
        }
        out.family("heidi_governor_holds_total", .counter, "Stage starts the resource governor held.") {
            $0.sample(Double(governorHolds))
        }
        out.family("heidi_governor_hold_seconds_total", .counter, "Time stage starts spent on hold.") {
            $0.sample(governorHoldSeconds)
        }
    }

    private static func perName(
        _ out: inout PrometheusText,
        _ name: String,
        _ help: String,
        _ values: [String: [String: Double]]
    ) {
        out.family(name, .counter, help) { family in
            for (stage, named) in values.sorted(by: { $0.key < $1.key }) {
                for (key, value) in named.sorted(by: { $0.key < $1.key }) {
                    family.sample(value, ["name": key, "stage": stage])
                }
            }
        }
    }

    private static func perStage(
        _ out: inout PrometheusText,
        _ name: String,
        _ kind: PrometheusText.Kind,
        _ help: String,
        _ values: [String: Double]
    ) {
        out.family(name, kind, help) { family in
            for (stage, value) in values.sorted(by: { $0.key < $1.key }) { family.sample(value, ["stage": stage]) }
        }
    }
}

/// Builds Prometheus text exposition format 0.0.4: `# HELP` and `# TYPE` before each family's samples.
struct PrometheusText {
    enum Kind: String { case gauge, counter, summary }

    struct Family {
        let name: String
        fileprivate var lines: [String] = []

        mutating func sample(_ value: Double, _ labels: [String: String] = [:], suffix: String = "") {
            let rendered = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(PrometheusText.escape($0.value))\"" }
            let labelText = rendered.isEmpty ? "" : "{" + rendered.joined(separator: ",") + "}"
            lines.append("\(name)\(suffix)\(labelText) \(PrometheusText.format(value))")
        }
    }

    private(set) var text = ""

    mutating func family(_ name: String, _ kind: Kind, _ help: String, _ body: (inout Family) -> Void) {
        var family = Family(name: name)
        body(&family)
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(kind.rawValue)\n"
        for line in family.lines { text += line + "\n" }
    }

    static func escape(_ value: String) -> String {
        value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n")
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

/// heidid's own resource use, from `/proc/self`.
struct DaemonProcessStats {
    var residentBytes = 0
    var openFDs = 0
    var cpuSeconds = 0.0
    var threads = 0

    static func read() -> DaemonProcessStats {
        var stats = DaemonProcessStats()
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        if let statm = try? FileSystem.read("/proc/self/statm") {
            let fields = String(decoding: statm, as: UTF8.self).split(separator: " ")
            if fields.count > 1, let pages = Int(fields[1]) { stats.residentBytes = pages * page }
        }
        if let stat = try? FileSystem.read("/proc/self/stat") {
            let text = String(decoding: stat, as: UTF8.self)
            if let close = text.lastIndex(of: ")") {
                // After the command: state(3) … utime(14) stime(15) … num_threads(20).
                let fields = text[text.index(after: close)...].split(separator: " ")
                let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
                if fields.count > 17, let user = Double(fields[11]), let system = Double(fields[12]),
                    let threads = Int(fields[17])
                {
                    stats.cpuSeconds = (user + system) / ticks
                    stats.threads = threads
                }
            }
        }
        if let dir = opendir("/proc/self/fd") {
            while readdir(dir) != nil { stats.openFDs += 1 }
            closedir(dir)
            stats.openFDs = max(0, stats.openFDs - 3)  // ".", ".." and the directory's own descriptor
        }
        return stats
    }
}
