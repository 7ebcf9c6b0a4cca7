import ArgumentParser
import HeidiAPI
import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print journal events (NDJSON with --json), optionally following new ones.",
        discussion:
            "With --follow, a daemon restart is survived: heidictl reconnects and resumes after the last seq it printed, without duplicates or gaps. A daemon that stays away longer than --reconnect-timeout ends the command (exit 3)."
    )

    @Flag(name: .shortAndLong, help: "Keep printing new events as they are written.")
    var follow = false

    @Option(name: .long, help: "Only events with seq greater than this.")
    var after: UInt64 = 0

    @Option(
        name: .long,
        help: "With --follow: how long to wait for a daemon that went away (90, 90s, 15m). Default 60s."
    )
    var reconnectTimeout: String = "60s"

    @OptionGroup var global: GlobalOptions

    func validate() throws { _ = try FollowingStream.reconnectSeconds(reconnectTimeout) }

    func run() throws {
        var lastSeq = after
        let json = global.json
        let stream = FollowingStream(
            client: global.client,
            follow: follow,
            reconnectFor: try FollowingStream.reconnectSeconds(reconnectTimeout)
        )
        try stream.run(path: {
            "\(API.events)?after=\(lastSeq)&follow=\(follow ? 1 : 0)"
        }) { line in
            guard let seq = JournalLineEncoder.seq(of: line), seq > lastSeq else { return [] }
            lastSeq = seq
            return json ? line : Array((TerminalText.neutralised(EventFormatter.describe(line)) + "\n").utf8)
        }
    }
}

/// Streams lines from the daemon; with `follow`, reconnects after the daemon goes away (restart, upgrade) and asks
/// again with a fresh path, so callers resume where they stopped. A daemon that stays away longer than
/// `reconnectFor` seconds ends the stream with its connection error (exit 3 when it is not running).
struct FollowingStream {
    let client: UnixHTTPClient
    let follow: Bool
    var reconnectFor: Double = 60

    static func reconnectSeconds(_ text: String) throws -> Double {
        guard let seconds = Units.parseDuration(text), seconds >= 0 else {
            throw ValidationError("invalid --reconnect-timeout \"\(text)\" (use 90, 90s, 15m)")
        }
        return seconds
    }

    /// Calls `onHeaders` for each successful connection, then `onLine` for every line, and prints what it returns
    /// (one write per chunk received, not per line). Returns the trailers of the stream that ended it: without
    /// `follow`, the first; with `follow`, the first for which `isLast` holds.
    @discardableResult
    func run(
        path: () -> String,
        onHeaders: (HTTPFields) -> Void = { _ in },
        isLast: (HTTPFields) -> Bool = { _ in false },
        onLine: ([UInt8]) -> [UInt8]
    ) throws -> HTTPFields {
        var announced = false
        var awaySince: UInt64?
        while true {
            var pending: [UInt8] = []
            var errorBody: [UInt8] = []
            do {
                let (status, _, trailers) = try client.stream(
                    "GET",
                    path(),
                    onHeaders: { status, headers in
                        if status == 200 {
                            awaySince = nil
                            onHeaders(headers)
                        }
                    }
                ) { status, chunk in
                    guard status == 200 else {
                        errorBody += chunk
                        return
                    }
                    pending += chunk
                    var start = 0
                    var output: [UInt8] = []
                    while let newline = pending[start...].firstIndex(of: 0x0a) {
                        output += onLine(Array(pending[start...newline]))
                        start = newline + 1
                    }
                    pending.removeFirst(start)
                    writeOut(output)
                }
                if status != 200 { throw failForStatus(HTTPReply(status: status, body: errorBody)) }
                if !pending.isEmpty { writeOut(onLine(pending + [0x0a])) }
                if !follow || isLast(trailers) { return trailers }
                awaySince = awaySince ?? MonotonicClock.nanoseconds()
                // The daemon ended the stream: it is shutting down or restarting. Give it time to go away
                // before reconnecting, instead of racing its shutdown.
                if !announced {
                    printError("heidictl: heidid closed the stream (stopping or restarting); reconnecting…")
                }
                announced = true
                usleep(500_000)
            } catch let error as ClientError {
                guard follow, error.isRetryable else { throw CommandFailure(error) }
                let since = awaySince ?? MonotonicClock.nanoseconds()
                awaySince = since
                if Double(MonotonicClock.nanoseconds() - since) / 1e9 >= reconnectFor {
                    throw CommandFailure(
                        error.code,
                        "gave up after \(Units.formatDuration(reconnectFor)) without heidid: \(error)",
                        exitCode: error.exitCode
                    )
                }
                if !announced {
                    printError(
                        "heidictl: heidid went away (\(error)); reconnecting for up to \(Units.formatDuration(reconnectFor))…"
                    )
                }
                announced = true
                usleep(200_000)
            }
        }
    }
}

extension ClientError {
    /// Failures a follower waits out (the daemon restarting), as opposed to permanent ones.
    var isRetryable: Bool {
        switch self {
        case .noSocket, .staleSocket, .protocolError, .io: return true
        case .permissionDenied, .incompatible, .timedOut: return false
        }
    }
}

/// One journal line for humans: `#17 06:27:39 info  stage_end  r1 generate  message`.
enum EventFormatter {
    static func describe(_ line: [UInt8]) -> String {
        guard let value = try? StrictJSONParser.parse(line.dropLast()) else {
            return String(decoding: line.dropLast(), as: UTF8.self)
        }
        let seq =
            value["seq"].flatMap {
                if case .number(let n) = $0 { return n }
                return nil
            } ?? "?"
        let ts = value["ts"]?.stringValue ?? ""
        let level = value["level"]?.stringValue ?? ""
        let type = value["event_type"]?.stringValue ?? ""
        let round =
            value["round"].flatMap {
                if case .number(let n) = $0 { return n }
                return nil
            } ?? "0"
        let stage = value["stage"]?.stringValue ?? "-"
        let message = value["message"]?.stringValue ?? ""
        let time = ts.count >= 19 ? String(ts.dropFirst(11).prefix(8)) : ts
        return
            "#\(seq.padded(4))\(time) \(level.padded(5))\(type.padded(18))r\(round.padded(2))\(stage.padded(9))\(message)"
    }
}

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print a stage's output of the current run (default: the running stage).",
        discussion: """
            The whole log is printed, across rotation (<stage>.log.1, then <stage>.log). With --follow, heidictl ends when the stage ends (after its retries) or the run ends without it: exit 0 when the stage succeeded, 1 when it failed, timed out, was stopped or did not run; how it ended is said on stderr.
            """
    )

    @Argument(help: "generate, validate, test, train or eval.")
    var stage: Stage?

    @Option(name: .long, help: "Round (default: the current round).")
    var round: Int?

    @Flag(name: .shortAndLong, help: "Keep printing new lines as the stage writes them, until it ends.")
    var follow = false

    @Option(name: [.customShort("n"), .long], help: "Only the last LINES lines.")
    var lines: Int?

    @Option(
        name: .long,
        help: "With --follow: how long to wait for a daemon that went away (90, 90s, 15m). Default 60s."
    )
    var reconnectTimeout: String = "60s"

    @OptionGroup var global: GlobalOptions

    func validate() throws { _ = try FollowingStream.reconnectSeconds(reconnectTimeout) }

    func run() throws {
        let client = global.client
        var stageName = stage?.rawValue
        var round = self.round
        if stageName == nil || (round == nil && follow) {
            let reply = try withDaemon { () throws(ClientError) in try client.request("GET", API.status) }
            let status = try? JSONCoding.decode(StatusSnapshot.self, from: reply.body)
            stageName = stageName ?? status?.stage
            // Pin the round, so a follower that reconnects keeps reading the same log.
            if round == nil, let status, status.round > 0 { round = status.round }
        }
        guard let stageName else {
            throw CommandFailure(
                "usage",
                "no stage is running; name one: heidictl logs generate|validate|test|train|eval",
                exitCode: 2
            )
        }
        var received = 0
        var firstLine = 0
        let json = global.json
        let stream = FollowingStream(
            client: client,
            follow: follow,
            reconnectFor: try FollowingStream.reconnectSeconds(reconnectTimeout)
        )
        let trailers = try stream.run(
            path: {
                var path = "\(API.logs)?stage=\(stageName)&follow=\(follow ? 1 : 0)"
                if let round { path += "&round=\(round)" }
                // After a reconnect, continue after the lines already printed.
                if received > 0 {
                    path += "&from_line=\(firstLine + received)"
                } else if let lines {
                    path += "&tail=\(lines)"
                }
                return path
            },
            onHeaders: { headers in
                guard received == 0 else { return }
                firstLine = headers["x-heidi-first-line"].flatMap { Int($0) } ?? 0
                if firstLine == 0, let rotated = headers["x-heidi-rotated-part"] {
                    printError(
                        "heidictl: the log was rotated at logs.max_size: printing \(rotated), then the live file; output written before \(rotated) began was not kept"
                    )
                }
            },
            isLast: { $0[API.stageEndTrailer.lowercased()] != nil }
        ) { line in
            received += 1
            if !json { return TerminalText.neutralised(line) }
            let text = String(decoding: line.dropLast(), as: UTF8.self)
            return Array("{\"stage\":\(JSONText.quoted(stageName)),\"line\":\(JSONText.quoted(text))}\n".utf8)
        }
        guard follow, let end = trailers[API.stageEndTrailer.lowercased()] else { return }
        let outcome = end.split(separator: ";", maxSplits: 1).first.map(String.init) ?? end
        let detail =
            end.split(separator: ";", maxSplits: 1).dropFirst().first.map { $0.trimmingCharacters(in: " ") } ?? ""
        let name = "\(stageName)\(round.map { " (round \($0))" } ?? "")"
        switch outcome {
        case "success":
            printError("heidictl: \(name) finished: \(detail)")
        case "not_run":
            printError("heidictl: \(name) did not run: \(TerminalText.neutralised(detail))")
            throw ExitCode(1)
        default:
            printError("heidictl: \(name) ended: \(outcome.replacingUnderscores) (\(TerminalText.neutralised(detail)))")
            throw ExitCode(1)
        }
    }
}

extension Stage: ExpressibleByArgument {}
extension PipelineMode: ExpressibleByArgument {}
