import ArgumentParser
import HeidiAPI
import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the pipeline state, the running child and the journal head."
    )

    @Flag(
        name: .shortAndLong,
        help: "Keep showing the status, redrawn in place on a terminal (one JSON document per change with --json)."
    )
    var watch = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        if watch && (global.json || !Terminal.isTTY) { return try watchChanges() }
        if watch {
            _ = try StatusPoller(client: global.client).current()  // fails as the one-shot status does
            return try redrawLoop()
        }
        try Self.showOnce(global.target)
    }

    /// One status, printed (the answer as it came with --json); exit status 1 when the pipeline is in ERROR. Also
    /// `heidictl status`'s fast path (`ControlTarget.plainStatus`), so both print the same.
    static func showOnce(_ target: ControlTarget) throws {
        let (status, body) = try StatusPoller(client: target.client).current()
        if target.json {
            writeOut(body)
        } else {
            writeOut(Array((StatusFormatter.describe(status, colors: Terminal.colors) + "\n").utf8))
        }
        if status.state == .error { throw ExitCode(1) }
    }

    /// One document (or block) per change, from the daemon's change feed (`GET /api/v1/status?watch=1`): every
    /// change the daemon publishes arrives, in order, and none twice (also across a reconnect).
    private func watchChanges() throws {
        var last: StatusSnapshot?
        try FollowingStream(client: global.client, follow: true).run(path: { API.status + "?watch=1" }) { line in
            guard let status = try? StatusPoller.decode(line.dropLast()) else { return [] }
            let key = status.watchKey
            guard key != last else { return [] }
            last = key
            return global.json ? line : Array((StatusFormatter.describe(status, colors: Terminal.colors) + "\n\n").utf8)
        }
    }

    /// On a terminal: redraws every second (elapsed times move).
    private func redrawLoop() throws {
        let poller = StatusPoller(client: global.client)
        while true {
            let (status, _) = try poller.current()
            writeOut(
                Array(("\u{1B}[H\u{1B}[2J" + StatusFormatter.describe(status, colors: Terminal.colors) + "\n").utf8)
            )
            usleep(1_000_000)
        }
    }
}

/// Terminal capabilities for human output.
enum Terminal {
    static var isTTY: Bool { isatty(1) == 1 }
    /// Colours only on a terminal, never with NO_COLOR (https://no-color.org) or TERM=dumb.
    static var colors: Bool {
        guard isTTY else { return false }
        let environment = ProcessEnvironment.current()
        return environment["NO_COLOR"].map(\.isEmpty) ?? true && environment["TERM"] != "dumb"
    }
}

/// The human `status` block.
enum StatusFormatter {
    static func describe(_ s: StatusSnapshot, colors: Bool = false) -> String {
        // Appended to one String, not (name, value) pairs or lines joined at the end: a `[(String, String)]` would be
        // one more generic type for the Swift runtime to build in every `heidictl status` (see `HTTPFields`), and
        // `[String].joined` looks up an associated type at run time, which scans all ~4,000 protocol conformance
        // records of the binary.
        var text = ""
        func row(_ name: String, _ value: String) {
            if !text.isEmpty { text += "\n" }
            text += name.padded(11) + value
        }
        var state = s.state.rawValue
        if let stage = s.stage { state += " (\(stage))" }
        if s.paused { state += ", paused" } else if s.pauseRequested { state += ", pause requested" }
        if s.stopping { state += ", stopping" }
        if s.awaitingTrainNow { state += ", waiting for train-now" }
        if s.trainNowPending { state += ", train-now queued" }
        if colors {
            let code = s.state == .error ? "31;1" : (s.state == .idle ? "2" : "32;1")
            state = "\u{1B}[\(code)m\(state)\u{1B}[0m"
        }
        row("state", state)
        row("round", s.runID == nil ? "-" : "\(s.round)/\(s.rounds)")
        row("mode", s.mode.rawValue)
        row("run", s.runID ?? "-")
        if let child = s.child {
            row(
                "child",
                "pid \(child.pid), \(Units.formatDuration(child.elapsedSeconds)) of \(Units.formatDuration(child.timeoutSeconds)) timeout"
            )
            if let executor = child.executor { row("job", Self.executorSummary(executor)) }
            if let progress = child.status { row("progress", TerminalText.neutralised(progress)) }
            if let progress = child.progress {
                row(child.status == nil ? "progress" : "output", progress.summary)
            }
            if let counters = child.counters, !counters.isEmpty { row("counters", Self.numbers(counters)) }
            if let usage = child.usage, !usage.isEmpty { row("usage", Self.numbers(usage)) }
        } else {
            row("child", "-")
        }
        if let error = s.lastError {
            row("last error", "\(error.headline) (at \(error.at))")
            // The failing stage's last output lines, which say why.
            for line in error.excerpt.suffix(5) { row("", "  " + line) }
        } else {
            row("last error", "-")
        }
        row("journal", "seq \(s.journal.seq), \(s.journal.path)")
        if s.journal.damage != nil {
            row("", "  DAMAGE RECORDED (journal_damaged): see 'heidictl journal verify'")
        }
        row("daemon", "heidid \(s.version), pid \(s.pid), up since \(s.startedAt)")
        return text
    }

    /// `raw_written=120 teacher_failed=3`, sorted by name, numbers as in JSON.
    /// A stage that runs elsewhere, in one line: `slurm job 42 RUNNING on n1, pending 3s, running 12s`.
    static func executorSummary(_ facts: [String: String]) -> String {
        var text = "\(facts["executor"] ?? "?") job \(facts["job_id"] ?? "(submitting)") \(facts["state"] ?? "?")"
        if let nodes = facts["nodes"], !nodes.isEmpty { text += " on \(nodes)" }
        if let reason = facts["reason"], !reason.isEmpty, reason != "None" { text += " (\(reason))" }
        if let pending = facts["pending_seconds"].flatMap(Double.init) {
            text += ", pending \(Units.formatDuration(pending))"
        }
        if let running = facts["running_seconds"].flatMap(Double.init) {
            text += ", running \(Units.formatDuration(running))"
        }
        if facts["controller"] == "unreachable" { text += ", controller unreachable" }
        return TerminalText.neutralised(text)
    }

    static func numbers(_ values: [String: Double]) -> String {
        values.sorted { $0.key < $1.key }.map { "\(TerminalText.neutralised($0.key))=\(JSONText.number($0.value))" }
            .joined(separator: " ")
    }
}

extension PipelineFailure {
    /// `train round 2: exit 1` — the stage, round and how it ended (exit status, signal or timeout), without the
    /// output excerpt; safe for a terminal.
    var headline: String {
        let first =
            message.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let cut = first.firstRange(of: "; last output:")?.lowerBound ?? first.endIndex
        var text = String(first[..<cut])
        if let signal, !text.contains("signal") { text += " (signal \(signal))" }
        if let exitCode, signal == nil, !text.contains("exit") { text += " (exit \(exitCode))" }
        return TerminalText.neutralised("\(stage ?? "daemon") round \(round): \(text)")
    }

    /// The failing stage's last output lines (from its failure excerpt), safe for a terminal.
    var excerpt: [String] {
        let lines = message.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first?.contains("; last output:") == true else { return [] }
        return lines.dropFirst().map { TerminalText.neutralised(String($0)) }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print heidictl's version and, if reachable, heidid's."
    )

    @OptionGroup var global: GlobalOptions

    func run() throws {
        var daemon: String?
        if let reply = try? global.client.request("GET", API.status), reply.status == 200,
            let status = try? JSONCoding.decode(StatusSnapshot.self, from: reply.body)
        {
            daemon = status.version
        }
        if global.json {
            let object =
                "{\"heidictl\":\(JSONText.quoted(HeidiCtl.version)),\"api_version\":\(API.version),\"heidid\":"
                + (daemon.map { JSONText.quoted($0) } ?? "null") + "}\n"
            writeOut(Array(object.utf8))
        } else {
            print("heidictl \(HeidiCtl.version) (api \(API.version))")
            print(daemon.map { "heidid \($0)" } ?? "heidid not reachable")
        }
    }
}

extension String {
    func padded(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
