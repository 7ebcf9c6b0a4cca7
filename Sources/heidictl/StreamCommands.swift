#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import HeidiAPI
import HeidiCore

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print journal events (NDJSON with --json), optionally following new ones.",
        discussion: "With --follow, a daemon restart is survived: heidictl reconnects and resumes after the last seq it printed, without duplicates or gaps.")

    @Flag(name: .shortAndLong, help: "Keep printing new events as they are written.")
    var follow = false

    @Option(name: .long, help: "Only events with seq greater than this.")
    var after: UInt64 = 0

    @OptionGroup var global: GlobalOptions

    func run() throws {
        var lastSeq = after
        let json = global.json
        try FollowingStream(client: global.client, follow: follow, json: json).run(path: {
            "\(API.events)?after=\(lastSeq)&follow=\(follow ? 1 : 0)"
        }) { line in
            guard let seq = JournalLineEncoder.seq(of: line), seq > lastSeq else { return }
            lastSeq = seq
            writeOut(json ? line : Array((EventFormatter.describe(line) + "\n").utf8))
        }
    }
}

/// Streams lines from the daemon; with `follow`, reconnects after the daemon goes away (restart, upgrade) and asks
/// again with a fresh path, so callers resume where they stopped.
struct FollowingStream {
    let client: UnixHTTPClient
    let follow: Bool
    let json: Bool

    /// Calls `onHeaders` for each successful connection, then `onLine` for every line.
    func run(path: () -> String, onHeaders: ([String: String]) -> Void = { _ in }, onLine: ([UInt8]) -> Void) throws {
        var announced = false
        while true {
            var pending: [UInt8] = []
            var errorBody: [UInt8] = []
            var received = false
            do {
                let (status, _) = try client.stream("GET", path(), onHeaders: { status, headers in
                    if status == 200 { onHeaders(headers) }
                }) { status, chunk in
                    guard status == 200 else { errorBody += chunk; return }
                    pending += chunk
                    while let newline = pending.firstIndex(of: 0x0a) {
                        received = true
                        onLine(Array(pending[...newline]))
                        pending.removeFirst(newline + 1)
                    }
                }
                if status != 200 { throw failForStatus(HTTPReply(status: status, body: errorBody), json: json) }
                if received { announced = false }
                if !follow { return }
                // The daemon ended the stream: it is shutting down or restarting. Give it time to go away
                // before reconnecting, instead of racing its shutdown.
                if !announced { printError("heidictl: heidid closed the stream (stopping or restarting); reconnecting…") }
                announced = true
                usleep(500_000)
            } catch let error as ClientError {
                guard follow, error.isRetryable else {
                    printError("heidictl: \(error)")
                    throw ExitCode(error.exitCode)
                }
                if !announced { printError("heidictl: heidid went away (\(error)); reconnecting…") }
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
        case .permissionDenied, .incompatible: return false
        }
    }
}


/// One journal line for humans: `#17 06:27:39 info  stage_end  r1 generate  message`.
enum EventFormatter {
    static func describe(_ line: [UInt8]) -> String {
        guard let value = try? StrictJSONParser.parse(line.dropLast()) else { return String(decoding: line.dropLast(), as: UTF8.self) }
        let seq = value["seq"].flatMap { if case .number(let n) = $0 { return n }; return nil } ?? "?"
        let ts = value["ts"]?.stringValue ?? ""
        let level = value["level"]?.stringValue ?? ""
        let type = value["event_type"]?.stringValue ?? ""
        let round = value["round"].flatMap { if case .number(let n) = $0 { return n }; return nil } ?? "0"
        let stage = value["stage"]?.stringValue ?? "-"
        let message = value["message"]?.stringValue ?? ""
        let time = ts.count >= 19 ? String(ts.dropFirst(11).prefix(8)) : ts
        return "#\(seq.padded(4))\(time) \(level.padded(5))\(type.padded(18))r\(round.padded(2))\(stage.padded(9))\(message)"
    }
}

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Print a stage's output of the current run (default: the running stage).")

    @Argument(help: "generate, validate, test, train or eval.")
    var stage: Stage?

    @Option(name: .long, help: "Round (default: the current round).")
    var round: Int?

    @Flag(name: .shortAndLong, help: "Keep printing new lines as the stage writes them.")
    var follow = false

    @Option(name: [.customShort("n"), .long], help: "Only the last LINES lines.")
    var lines: Int?

    @OptionGroup var global: GlobalOptions

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
            printError("heidictl: no stage is running; name one: heidictl logs generate|validate|test|train|eval")
            throw ExitCode(2)
        }
        var received = 0
        var firstLine = 0
        let json = global.json
        try FollowingStream(client: client, follow: follow, json: json).run(path: {
            var path = "\(API.logs)?stage=\(stageName)&follow=\(follow ? 1 : 0)"
            if let round { path += "&round=\(round)" }
            // After a reconnect, continue after the lines already printed.
            if received > 0 { path += "&from_line=\(firstLine + received)" } else if let lines { path += "&tail=\(lines)" }
            return path
        }, onHeaders: { headers in
            if received == 0 { firstLine = headers["x-heidi-first-line"].flatMap { Int($0) } ?? 0 }
        }) { line in
            received += 1
            if !json { writeOut(line); return }
            let text = String(decoding: line.dropLast(), as: UTF8.self)
            writeOut(Array("{\"stage\":\(JSONText.quoted(stageName)),\"line\":\(JSONText.quoted(text))}\n".utf8))
        }
    }
}

extension Stage: ExpressibleByArgument {}
extension PipelineMode: ExpressibleByArgument {}
