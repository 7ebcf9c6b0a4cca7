import HeidiCore

// Shared by EndToEndTests and HeidiSystemdTests (Tests/HeidiSystemdTests/Session.swift is a symlink to this file):
// one scratch directory with a config, a state directory and a control socket, the heidid processes started on
// it, and heidictl against it. Tests write `let s = try Session(); defer { s.tearDown() }`, so it is torn down also
// when the test fails. Not a `Session.with { s in … }` wrapper: with Swift 6.3.1 a closure literal inside
// #expect/#require that is itself inside a closure can get the same symbol as a later closure, which is then
// silently called instead (so the tests also keep closure literals out of #expect/#require).
#if canImport(Glibc)
import Glibc
#endif

/// A heidid started by a test, in its own process group, with stdout and stderr in files of the session directory.
final class DaemonProcess {
    let pid: pid_t
    let stderrPath: String
    private(set) var exitStatus: Int32?

    init(arguments: [String], environment: [String: String], logPrefix: String) throws {
        let stdoutFD = open(logPrefix + ".stdout", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        stderrPath = logPrefix + ".stderr"
        let stderrFD = open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer {
            close(stdoutFD)
            close(stderrFD)
        }
        guard stdoutFD >= 0, stderrFD >= 0 else {
            throw HarnessError("cannot create \(logPrefix).*: \(String(cString: strerror(errno)))")
        }
        pid = try Processes.spawn(
            [Binaries.heidid] + arguments,
            environment: environment,
            stdout: stdoutFD,
            stderr: stderrFD
        )
    }

    var stderrText: String { (try? FileSystem.read(stderrPath)).map { String(decoding: $0, as: UTF8.self) } ?? "" }

    /// Whether it has exited (and been reaped).
    var hasExited: Bool {
        if exitStatus == nil { exitStatus = Processes.reap(pid) }
        return exitStatus != nil
    }

    /// Waits up to `timeout` seconds for the daemon to exit; its exit code, or nil if it still runs.
    func waitForExit(timeout: Double) async -> Int32? {
        let deadline = Clock.seconds() + timeout
        while !hasExited && Clock.seconds() < deadline { try? await Task.sleep(nanoseconds: 20_000_000) }
        return exitStatus
    }

    /// SIGTERM, then waits for the exit.
    func terminate(timeout: Double = 15) async -> Int32? {
        if !hasExited { kill(pid, SIGTERM) }
        return await waitForExit(timeout: timeout)
    }

    /// Cleanup: SIGKILL to the daemon's process group and reap it.
    func forceStop() {
        guard !hasExited else { return }
        exitStatus = Processes.killGroupAndReap(pid)
    }
}

final class Session {
    /// How long a test waits for something that normally takes a second or two, by default: generous, since the
    /// whole suite shares two busy cores on the CI machines (which can be three times slower than a laptop). Only a
    /// failing test ever waits this long.
    static let patience: Double = 30
    let dir: TempDirectory
    let stateDir: String
    let socket: String
    /// Every process started for this session (daemon, stages, heidictl) has this environment entry.
    let marker: String
    private(set) var configPath: String?
    let environment: [String: String]
    private var daemons: [DaemonProcess] = []

    /// The daemon started last.
    var daemon: DaemonProcess? { daemons.last }
    var journalPath: String { stateDir + "/events.jsonl" }

    init(environment extra: [String: String] = [:]) throws {
        dir = try TempDirectory()
        stateDir = dir.file("state")
        socket = dir.file("ctl.sock")
        marker = "HEIDI_E2E_SESSION=" + dir.path
        environment = TestEnvironment.make(extra.merging(["HEIDI_E2E_SESSION": dir.path]) { _, new in new })
    }

    /// Kills the daemons and every other process of the session, and removes the directory.
    func tearDown() {
        for daemon in daemons { daemon.forceStop() }
        for pid in Processes.withEnvironmentEntry(marker) { kill(pid, SIGKILL) }
        dir.remove()
    }

    /// Writes the session's config file.
    func writeConfig(_ yaml: String) throws { configPath = try dir.write("heidi.yaml", yaml) }

    /// Uses an existing config file.
    func useConfig(_ path: String) { configPath = path }

    /// Starts heidid on this session's state directory and socket; by default waits until it answers
    /// `heidictl status` (at most `timeout` seconds).
    @discardableResult
    func startDaemon(
        extraArguments: [String] = [],
        environment extra: [String: String] = [:],
        waitUntilAnswering: Bool = true,
        timeout: Double = Session.patience
    ) async throws -> DaemonProcess {
        var arguments = ["--state-dir", stateDir, "--socket", socket, "--log-target", "stderr"]
        if let configPath { arguments += ["--config", configPath] }
        // The session's own runtime directory: stages' progress sockets stay out of the machine's /run/heidi.
        if !extraArguments.contains("--runtime-dir") { arguments += ["--runtime-dir", dir.file("run")] }
        let daemon = try DaemonProcess(
            arguments: arguments + extraArguments,
            environment: environment.merging(extra) { _, new in new },
            logPrefix: dir.file("heidid-\(daemons.count + 1)")
        )
        daemons.append(daemon)
        if waitUntilAnswering { try await waitForAnswer(daemon, timeout: timeout) }
        return daemon
    }

    /// Polls `heidictl status` until it gets an answer (exit 0, or 1 for a pipeline in ERROR).
    func waitForAnswer(_ daemon: DaemonProcess, timeout: Double = Session.patience) async throws {
        let deadline = Clock.seconds() + timeout
        var last: ProcessResult?
        while Clock.seconds() < deadline {
            if daemon.hasExited {
                throw HarnessError(
                    "heidid exited (\(daemon.exitStatus ?? -1)) before answering; stderr:\n\(daemon.stderrText)"
                )
            }
            let result = try await ctl("status")
            if result.status == 0 || result.status == 1 { return }
            last = result
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw HarnessError(
            "heidid did not answer within \(timeout) s; last heidictl: \(last.map { "\($0)" } ?? "-")\n"
                + "heidid stderr:\n\(daemon.stderrText)"
        )
    }

    /// Runs `heidictl --socket <socket> ARGS...`.
    func ctl(_ arguments: String...) async throws -> ProcessResult {
        try await Processes.run([Binaries.heidictl, "--socket", socket] + arguments, environment: environment)
    }

    /// `heidictl --json status`, decoded (exit 1 is fine: it means the pipeline is in ERROR).
    func status() async throws -> StatusSnapshot {
        let result = try await ctl("--json", "status")
        guard result.status == 0 || result.status == 1 else { throw HarnessError("heidictl status failed: \(result)") }
        do { return try JSONCoding.decode(StatusSnapshot.self, from: result.stdoutBytes) } catch {
            throw HarnessError("status --json is not a status object (\(error)): \(result.stdout)")
        }
    }

    /// Polls until `condition` holds (at most `timeout` seconds); fails with `what`, the last value seen and the
    /// daemon's stderr.
    @discardableResult
    func waitUntil<T>(
        _ what: String,
        timeout: Double = Session.patience,
        _ probe: () async throws -> T?
    ) async throws -> T {
        let deadline = Clock.seconds() + timeout
        while true {
            if let value = try await probe() { return value }
            if let daemon, daemon.hasExited {
                throw HarnessError(
                    "waiting for \(what): heidid exited (\(daemon.exitStatus ?? -1)); stderr:\n\(daemon.stderrText)"
                )
            }
            if Clock.seconds() >= deadline { break }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        let last =
            (try? await status()).map {
                "state \($0.state.rawValue) round \($0.round)/\($0.rounds) stage \($0.stage ?? "-")"
            } ?? "-"
        throw HarnessError(
            "timed out after \(timeout) s waiting for \(what); last status: \(last)\nheidid stderr:\n"
                + (daemon?.stderrText ?? "")
        )
    }

    /// Polls `heidictl status` until `condition` holds.
    @discardableResult
    func waitForStatus(
        _ what: String,
        timeout: Double = Session.patience,
        _ condition: (StatusSnapshot) -> Bool
    ) async throws -> StatusSnapshot {
        try await waitUntil(what, timeout: timeout) { () async throws -> StatusSnapshot? in
            let status = try await status()
            return condition(status) ? status : nil
        }
    }

    /// SIGTERMs the current daemon and waits for its exit; throws if it does not exit within `timeout`.
    @discardableResult
    func stopDaemon(timeout: Double = 15) async throws -> Int32 {
        guard let daemon else { throw HarnessError("no daemon was started") }
        guard let status = await daemon.terminate(timeout: timeout) else {
            throw HarnessError("heidid did not exit within \(timeout) s of SIGTERM; stderr:\n\(daemon.stderrText)")
        }
        return status
    }

    func journalBytes() throws -> [UInt8] { try FileSystem.read(journalPath) }
}
