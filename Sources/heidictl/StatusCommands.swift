#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import HeidiAPI
import HeidiCore

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the pipeline state, the running child and the journal head.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let reply = try withDaemon { () throws(ClientError) in try global.client.request("GET", API.status) }
        guard reply.status == 200 else { throw failForStatus(reply, json: global.json) }
        let status: StatusSnapshot
        do { status = try JSONCoding.decode(StatusSnapshot.self, from: reply.body) } catch {
            printError("heidictl: cannot read the status answer: \(error)")
            throw ExitCode(5)
        }
        if global.json { writeOut(reply.body) } else { print(StatusFormatter.describe(status)) }
        if status.state == .error { throw ExitCode(1) }
    }
}

/// The human `status` block.
enum StatusFormatter {
    static func describe(_ s: StatusSnapshot) -> String {
        var rows: [(String, String)] = []
        var state = s.state.rawValue
        if let stage = s.stage { state += " (\(stage))" }
        if s.paused { state += ", paused" } else if s.pauseRequested { state += ", pause requested" }
        if s.stopping { state += ", stopping" }
        if s.awaitingTrainNow { state += ", waiting for train-now" }
        if s.trainNowPending { state += ", train-now queued" }
        rows.append(("state", state))
        rows.append(("round", s.runID == nil ? "-" : "\(s.round)/\(s.rounds)"))
        rows.append(("mode", s.mode.rawValue))
        rows.append(("run", s.runID ?? "-"))
        if let child = s.child {
            rows.append(("child", "pid \(child.pid), \(Units.formatDuration(child.elapsedSeconds)) of \(Units.formatDuration(child.timeoutSeconds)) timeout"))
            if let progress = child.status { rows.append(("progress", progress)) }
        } else {
            rows.append(("child", "-"))
        }
        if let error = s.lastError {
            let firstLine = error.message.split(separator: "\n").first.map(String.init) ?? error.message
            rows.append(("last error", "\(error.stage ?? "daemon") round \(error.round): \(firstLine) (at \(error.at))"))
        } else {
            rows.append(("last error", "-"))
        }
        rows.append(("journal", "seq \(s.journal.seq), \(s.journal.path)"))
        rows.append(("daemon", "heidid \(s.version), pid \(s.pid), up since \(s.startedAt)"))
        return rows.map { "\($0.0.padded(11))\($0.1)" }.joined(separator: "\n")
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print heidictl's version and, if reachable, heidid's.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        var daemon: String?
        if let reply = try? global.client.request("GET", API.status), reply.status == 200,
            let status = try? JSONCoding.decode(StatusSnapshot.self, from: reply.body)
        {
            daemon = status.version
        }
        if global.json {
            let object = "{\"heidictl\":\(JSONText.quoted(HeidiCtl.version)),\"api_version\":\(API.version),\"heidid\":"
                + (daemon.map { JSONText.quoted($0) } ?? "null") + "}\n"
            writeOut(Array(object.utf8))
        } else {
            print("heidictl \(HeidiCtl.version) (api \(API.version))")
            print(daemon.map { "heidid \($0)" } ?? "heidid not reachable")
        }
    }
}

extension String {
    func padded(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
