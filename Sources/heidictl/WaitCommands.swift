import ArgumentParser
import HeidiAPI
import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// Reads the status object (cheap: one small request).
struct StatusPoller {
    let client: UnixHTTPClient

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
        let deadline = timeout.flatMap(Units.parseDuration).map { MonotonicClock.nanoseconds() + UInt64($0 * 1e9) }
        var last = try StatusPoller(client: global.client).current()
        while true {
            if last.0.state == state || (last.0.state == .error && state != .error) { return try finish(last) }
            if let deadline, MonotonicClock.nanoseconds() >= deadline {
                if global.json { writeOut(last.1) }
                printError("heidictl: timed out waiting for \(state.rawValue) (state is \(last.0.state.rawValue))")
                throw ExitCode(5)
            }
            last = try nextChange(after: last, deadline: deadline)
        }
    }

    /// The next status from the daemon's change feed (`GET /api/v1/status?watch=1`) that is the awaited state or
    /// ERROR; or the latest one seen when the deadline passes or the daemon ends the feed (it stops or restarts:
    /// the caller asks again). No polling: heidictl sleeps in `read(2)` until the daemon has something to say.
    private func nextChange(
        after previous: (StatusSnapshot, [UInt8]),
        deadline: UInt64?
    ) throws -> (StatusSnapshot, [UInt8]) {
        var client = global.client
        if let deadline { client.readTimeout = Double(deadline &- min(deadline, MonotonicClock.nanoseconds())) / 1e9 }
        var latest = previous
        var reached = false
        var pending: [UInt8] = []
        var failure: HTTPReply?
        do {
            try client.stream("GET", API.status + "?watch=1", enough: { reached }) { status, chunk in
                guard status == 200 else {
                    failure = HTTPReply(status: status, body: (failure?.body ?? []) + chunk)
                    return
                }
                pending += chunk
                while !reached, let newline = pending.firstIndex(of: 0x0a) {
                    let line = Array(pending[..<newline])
                    pending.removeFirst(newline + 1)
                    guard let status = try? StatusPoller.decode(line) else { continue }
                    latest = (status, line + [0x0a])
                    if status.state == state || status.state == .error { reached = true }
                }
            }
        } catch .timedOut {
            return latest
        } catch {
            throw CommandFailure(error)
        }
        if let failure { throw failForStatus(failure) }
        if !reached { usleep(100_000) }  // the feed ended: let a stopping daemon go before asking again
        return latest
    }

    /// Prints the final status; exit 1 when the pipeline went to ERROR instead of the awaited state.
    private func finish(_ last: (StatusSnapshot, [UInt8])) throws {
        let (status, body) = last
        if global.json { writeOut(body) } else { print("state \(status.state.rawValue)") }
        guard status.state != state else { return }
        var text = "heidictl: the pipeline went to ERROR: \(status.lastError?.headline ?? "no error recorded")"
        if let excerpt = status.lastError?.excerpt, !excerpt.isEmpty {
            text += "\nlast output:\n" + excerpt.map { "  " + $0 }.joined(separator: "\n")
        }
        printError(text)
        throw ExitCode(1)
    }
}

extension PipelinePhase: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.uppercased()) }
}
