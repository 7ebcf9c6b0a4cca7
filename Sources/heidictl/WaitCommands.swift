import ArgumentParser
import HeidiAPI
import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// Polls the status object (cheap: one small request) until `done` says so or the deadline passes.
struct StatusPoller {
    let client: UnixHTTPClient
    var interval: UInt32 = 100_000

    func current() throws -> (StatusSnapshot, [UInt8]) {
        let reply = try withDaemon { () throws(ClientError) in try client.request("GET", API.status) }
        guard reply.status == 200 else { throw failForStatus(reply) }
        return (try Self.decode(reply.body), reply.body)
    }

    /// A status object, or the failure that it is not one.
    static func decode<Bytes: Collection<UInt8>>(_ body: Bytes) throws(CommandFailure) -> StatusSnapshot {
        do { return try StatusSnapshot(json: body) } catch {
            throw CommandFailure("protocol_error", "cannot read the status answer: \(error)", exitCode: 5)
        }
    }
}

struct Wait: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until the pipeline reaches a state.",
        discussion:
            "Exit status: 0 when the state is reached; 1 when the pipeline goes to ERROR instead (unless waiting for ERROR); 5 on timeout. With --json, prints the final status object."
    )

    @Option(name: .long, help: "IDLE, COLLECTING, VALIDATING, TESTING, FINALIZING, EVALUATING or ERROR.")
    var state: PipelinePhase

    @Option(name: .long, help: "Give up after this long (90, 90s, 15m, 2h). Default: wait forever.")
    var timeout: String?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if let timeout, Units.parseDuration(timeout) == nil {
            throw ValidationError("invalid --timeout \"\(timeout)\" (use 90, 90s, 15m, 2h)")
        }
    }

    func run() throws {
        let poller = StatusPoller(client: global.client)
        let deadline = timeout.flatMap(Units.parseDuration).map { MonotonicClock.nanoseconds() + UInt64($0 * 1e9) }
        while true {
            let (status, body) = try poller.current()
            if status.state == state || (status.state == .error && state != .error) {
                if global.json { writeOut(body) } else { print("state \(status.state.rawValue)") }
                if status.state != state {
                    var text =
                        "heidictl: the pipeline went to ERROR: \(status.lastError?.headline ?? "no error recorded")"
                    if let excerpt = status.lastError?.excerpt, !excerpt.isEmpty {
                        text += "\nlast output:\n" + excerpt.map { "  " + $0 }.joined(separator: "\n")
                    }
                    printError(text)
                    throw ExitCode(1)
                }
                return
            }
            if let deadline, MonotonicClock.nanoseconds() >= deadline {
                if global.json { writeOut(body) }
                printError("heidictl: timed out waiting for \(state.rawValue) (state is \(status.state.rawValue))")
                throw ExitCode(5)
            }
            usleep(poller.interval)
        }
    }
}

extension PipelinePhase: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.uppercased()) }
}
