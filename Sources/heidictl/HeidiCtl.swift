import ArgumentParser
import HeidiAPI
import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// `heidictl`: control and inspect heidid over its Unix socket.
@main
struct HeidiCtl: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "heidictl",
        abstract: "Control heidid, the Heidi training-loop supervisor.",
        discussion: """
            The socket is --socket, else $HEIDI_SOCKET, else the config's (--config, $HEIDI_CONFIG, /etc/heidi/heidi.yaml): the socket of the heidid running on its state directory (recorded in heidid.lock, so a daemon started with --runtime-dir or --socket is found), else control.socket or <runtime_dir>/heidi.sock; else the daemon's default (<runtime_dir>/heidi.sock).

            Exit status: 0 success; 1 refused (409) or, for status, the pipeline is in ERROR; 2 usage error; 3 heidid not running; 4 permission denied; 5 other failure. journal verify: 0 intact, 1 tampered, broken or torn, 2 usage, 5 unreadable.
            """,
        version: version,
        subcommands: [
            Status.self, Start.self, Stop.self, TrainNow.self, Pause.self, Resume.self, Reset.self,
            Events.self, Logs.self, Wait.self, Journal.self, Init.self, Version.self,
        ]
    )

    /// Runs the command with SPEC exit codes: usage errors exit 2 (ArgumentParser's default is 64).
    /// With `--json`, every failure also prints an error object on stdout (`CommandFailure`), usage errors too.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        // No closure here: a closure written in `main` is main-actor isolated, and Swift 6 checks that isolation when
        // it runs, which starts the concurrency runtime's executors in a program that never uses them.
        let json = arguments[..<(arguments.firstIndex(of: "--") ?? arguments.endIndex)].contains("--json")
        do {
            let hoisted = GlobalOptions.hoisted(arguments)
            // `heidictl status` with only global options: run it without ArgumentParser, whose reflection and
            // protocol-conformance lookups cost more than the whole round trip to the daemon (the same code runs).
            if let target = ControlTarget.plainStatus(hoisted) {
                try Status.showOnce(target)
                Glibc.exit(0)
            }
            var command = try parseAsRoot(hoisted)
            try command.run()
        } catch let exit as ExitCode {
            Glibc.exit(exit.rawValue)
        } catch let failure as CommandFailure {
            printError("heidictl: \(failure.message)")
            if json { writeOut(failure.jsonBytes) }
            Glibc.exit(failure.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            let message = fullMessage(for: error)
            printError(message)
            if json { writeOut(CommandFailure.errorObject(code: "usage", message: self.message(for: error))) }
            Glibc.exit(code == .validationFailure || code.rawValue == 64 ? 2 : code.rawValue)
        }
    }
}

/// Options every command takes; they may also come before the command (`heidictl --json status`).
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "Control socket path (default: $HEIDI_SOCKET, the config's control.socket, or <runtime_dir>/heidi.sock)."
    )
    var socket: String?

    @Option(name: .long, help: "Configuration file used to find the socket and the journal.")
    var config: String?

    @Flag(name: .long, help: "Print exactly one JSON document (NDJSON for streams) on stdout.")
    var json = false

    var target: ControlTarget { ControlTarget(socket: socket, config: config, json: json) }

    var environment: [String: String] { ProcessEnvironment.current() }

    var client: UnixHTTPClient { target.client }

    /// Moves global options written before the command word to the end, where every subcommand parses them.
    static func hoisted(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var rest = arguments[...]
        while let first = rest.first, first.hasPrefix("--") {
            if first == "--json" || first.hasPrefix("--socket=") || first.hasPrefix("--config=") {
                leading.append(first)
                rest = rest.dropFirst()
            } else if first == "--socket" || first == "--config", rest.count >= 2 {
                leading += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else {
                break
            }
        }
        return Array(rest) + leading
    }
}

/// The global options as plain values: which daemon to ask, and how to answer.
struct ControlTarget: Equatable {
    var socket: String?
    var config: String?
    var json = false

    var client: UnixHTTPClient {
        // A socket named by --socket or $HEIDI_SOCKET is the answer without the rest of the environment (as
        // `SocketLocator.resolve` returns it first): a dictionary of the whole environment cost a `heidictl status`
        // through $HEIDI_SOCKET 24 page faults and 14 % of its time.
        if let named = SocketLocator.named(
            explicit: socket,
            environmentSocket: ProcessEnvironment.value("HEIDI_SOCKET")
        ) {
            return UnixHTTPClient(socketPath: named, configPath: config)
        }
        let environment = ProcessEnvironment.current()
        return UnixHTTPClient(
            socketPath: SocketLocator.resolve(explicit: socket, configPath: config, environment: environment),
            configPath: config,
            environment: .given(environment)
        )
    }

    /// The target of `status` followed by nothing but global options (`arguments` hoisted: the command word first),
    /// each at most once and with a value that is not an option; nil for anything else, which ArgumentParser parses.
    static func plainStatus(_ arguments: [String]) -> ControlTarget? {
        guard arguments.first == "status" else { return nil }
        var target = ControlTarget()
        var rest = arguments.dropFirst()
        /// A value for an option not given before, that is not itself an option.
        func accept(_ given: String?, _ text: String) -> String? {
            given == nil && !text.isEmpty && !text.hasPrefix("-") ? text : nil
        }
        while let word = rest.popFirst() {
            if word == "--json" && !target.json {
                target.json = true
            } else if word == "--socket", let next = rest.popFirst(), let text = accept(target.socket, next) {
                target.socket = text
            } else if word == "--config", let next = rest.popFirst(), let text = accept(target.config, next) {
                target.config = text
            } else if word.hasPrefix("--socket="), let text = accept(target.socket, String(word.dropFirst(9))) {
                target.socket = text
            } else if word.hasPrefix("--config="), let text = accept(target.config, String(word.dropFirst(9))) {
                target.config = text
            } else {
                return nil
            }
        }
        return target
    }
}

/// Writes a diagnostic line to stderr.
func printError(_ message: String) { ProcessEnvironment.printError(message) }

/// Writes bytes to stdout unbuffered (streams must appear as they arrive).
func writeOut(_ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { raw in raw.baseAddress.map { write(1, $0 + offset, raw.count - offset) } ?? 0 }
        if n <= 0 {
            if errno == EINTR { continue }
            Glibc.exit(0)
        }  // stdout closed (e.g. piped into head)
        offset += n
    }
}

/// Runs a client call, turning connection failures into the documented exit codes.
func withDaemon<T>(_ body: () throws(ClientError) -> T) throws(CommandFailure) -> T {
    do { return try body() } catch { throw CommandFailure(error) }
}

/// A non-2xx answer as a failure: the daemon's message on stderr, its error body on stdout with --json, and the
/// exit code (409 → 1, 403 → 4, others 5).
func failForStatus(_ reply: HTTPReply) -> CommandFailure {
    let error = try? JSONCoding.decode(APIErrorBody.self, from: reply.body)
    let exitCode: Int32
    switch reply.status {
    case 409: exitCode = 1
    case 403: exitCode = 4
    default: exitCode = 5
    }
    return CommandFailure(
        error?.error.code.rawValue ?? "internal",
        error?.error.message ?? "HTTP \(reply.status)",
        exitCode: exitCode,
        body: error == nil ? nil : reply.body
    )
}
