import ArgumentParser
import HeidiAPI
import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// POSTs an action and reports the answer; returns the decoded response.
@discardableResult
func postAction(_ action: Action, body: [UInt8]? = nil, global: GlobalOptions) throws -> ActionResponse? {
    let reply = try withDaemon { () throws(ClientError) in
        try global.client.request("POST", API.actionPrefix + action.rawValue, body: body)
    }
    guard reply.status == 202 else { throw failForStatus(reply) }
    let response = try? JSONCoding.decode(ActionResponse.self, from: reply.body)
    if global.json {
        writeOut(reply.body)
    } else if let response {
        var text = "\(action.rawValue.replacingUnderscores): accepted"
        if let outcome = response.outcome { text += " (\(outcome))" }
        text += "; state \(response.state.rawValue)"
        if let run = response.runID { text += ", run \(run)" }
        print(text)
    }
    return response
}

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start a run (refused while one is active)."
    )

    @Option(name: .long, help: "full (every round trains) or collect (rounds wait for train-now).")
    var mode: PipelineMode?

    @Option(name: .long, help: "Number of rounds (default: the config's pipeline.rounds).")
    var rounds: Int?

    @Flag(name: .long, help: "Drop a collected round that waits for train-now (otherwise start is refused then).")
    var discard = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if let rounds, rounds < 1 { throw ValidationError("--rounds must be at least 1") }
    }

    func run() throws {
        let body = try JSONCoding.encode(StartRequest(mode: mode, rounds: rounds, discard: discard ? true : nil))
        try postAction(.start, body: body, global: global)
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop the run: the child gets SIGTERM, its stop_grace, then SIGKILL."
    )

    @Flag(name: .long, help: "Wait until the child tree is gone and the pipeline is idle.")
    var wait = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try postAction(.stop, global: global)
        guard wait else { return }
        while true {
            let reply = try withDaemon { () throws(ClientError) in try global.client.request("GET", API.status) }
            if let status = try? JSONCoding.decode(StatusSnapshot.self, from: reply.body), !status.stopping,
                status.child == nil
            {
                if !global.json { print("stopped; state \(status.state.rawValue)") }
                return
            }
            usleep(100_000)
        }
    }
}

struct TrainNow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-now",
        abstract: "Collect mode: train on what was collected (started now, or queued until validation ends)."
    )

    @OptionGroup var global: GlobalOptions

    func run() throws { try postAction(.trainNow, global: global) }
}

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Pause at the next stage boundary (the running child finishes)."
    )

    @OptionGroup var global: GlobalOptions

    func run() throws { try postAction(.pause, global: global) }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Resume a paused run (or withdraw a pending pause)."
    )

    @OptionGroup var global: GlobalOptions

    func run() throws { try postAction(.resume, global: global) }
}

struct Reset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract: "Clear ERROR and return to IDLE."
    )

    @OptionGroup var global: GlobalOptions

    func run() throws { try postAction(.reset, global: global) }
}

extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? "-" : $0 }) }
}
