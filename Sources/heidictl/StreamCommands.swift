#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import HeidiAPI
import HeidiCore

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print journal events (NDJSON with --json), optionally following new ones.")

    @Flag(name: .shortAndLong, help: "Keep printing new events as they are written.")
    var follow = false

    @Option(name: .long, help: "Only events with seq greater than this.")
    var after: UInt64 = 0

    @OptionGroup var global: GlobalOptions

    func run() throws {
        var assembler = [UInt8]()
        var errorBody = [UInt8]()
        let path = "\(API.events)?after=\(after)&follow=\(follow ? 1 : 0)"
        let status = try withDaemon { () throws(ClientError) in
            try global.client.stream("GET", path) { status, chunk in
                guard status == 200 else { errorBody += chunk; return }
                assembler += chunk
                while let newline = assembler.firstIndex(of: 0x0a) {
                    let line = Array(assembler[...newline])
                    assembler.removeFirst(newline + 1)
                    if global.json { writeOut(line) } else { writeOut(Array((EventFormatter.describe(line) + "\n").utf8)) }
                }
            }
        }
        if status != 200 { throw failForStatus(HTTPReply(status: status, body: errorBody), json: global.json) }
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
    static let configuration = CommandConfiguration(abstract: "Print a stage's output of the current run (default: the running stage).")

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
        if stageName == nil {
            let reply = try withDaemon { () throws(ClientError) in try client.request("GET", API.status) }
            stageName = (try? JSONCoding.decode(StatusSnapshot.self, from: reply.body))?.stage
        }
        guard let stageName else {
            printError("heidictl: no stage is running; name one: heidictl logs generate|validate|test|train|eval")
            throw ExitCode(2)
        }
        var path = "\(API.logs)?stage=\(stageName)&follow=\(follow ? 1 : 0)"
        if let round { path += "&round=\(round)" }
        if let lines { path += "&tail=\(lines)" }
        var errorBody: [UInt8] = []
        var pending: [UInt8] = []
        let json = global.json
        let statusCode = try withDaemon { () throws(ClientError) in
            try client.stream("GET", path) { status, chunk in
                guard status == 200 else { errorBody += chunk; return }
                if !json { writeOut(chunk); return }
                pending += chunk
                while let newline = pending.firstIndex(of: 0x0a) {
                    let text = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeFirst(newline + 1)
                    writeOut(Array("{\"stage\":\(JSONText.quoted(stageName)),\"line\":\(JSONText.quoted(text))}\n".utf8))
                }
            }
        }
        if statusCode != 200 { throw failForStatus(HTTPReply(status: statusCode, body: errorBody), json: json) }
    }
}

extension Stage: ExpressibleByArgument {}
extension PipelineMode: ExpressibleByArgument {}
