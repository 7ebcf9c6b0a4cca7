import Foundation
import HeidiCore
import HeidiTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A real heidid on the demo pipeline and a real heidi-web in front of it, on a free loopback port.
final class LiveStack {
    static let password = "correct-horse-battery-staple"
    static let repoRoot: String = {
        var path = #filePath
        for _ in 0..<3 { path = FileSystem.dirname(path) }
        return path
    }()

    let directory: String
    let socket: String
    var daemon: pid_t = 0
    var web: pid_t = 0
    var port = 0

    /// `trainSteps` replaces the demo's 8 train steps (about 0.15 s each, each a `STATUS=` line).
    init(label: String, extraConfig: String = "", trainSteps: Int? = nil) throws {
        directory = Scratch.directory(label)
        socket = directory + "/heidi.sock"
        var config = String(decoding: try FileSystem.read(Self.repoRoot + "/config/demo.yaml"), as: UTF8.self)
        config = config.replacingOccurrences(
            of: "repo_root: ../contrib/demo",
            with: "repo_root: \(Self.repoRoot)/contrib/demo"
        )
        config = config.replacingOccurrences(of: "rounds: 2", with: "rounds: 1") + extraConfig
        if let trainSteps {
            config = config.replacingOccurrences(of: "train_steps: 8", with: "train_steps: \(trainSteps)")
        }
        try FileSystem.writeAtomically(directory + "/heidi.yaml", Array(config.utf8))
        try FileSystem.writeAtomically(directory + "/password", Array((Self.password + "\n").utf8))
        try FileSystem.writeAtomically(directory + "/viewer-password", Array("viewer-password-0123\n".utf8))
        try startDaemon()
        try startWeb()
    }

    deinit { stopAll() }

    func stopAll() {
        if web > 0 {
            WebProcess.stop(web)
            web = 0
        }
        if daemon > 0 {
            WebProcess.stop(daemon)
            daemon = 0
        }
    }

    var environment: [String: String] {
        ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": directory, "HEIDI_LOG_LEVEL": "warning"]
    }

    func startDaemon() throws {
        daemon = try WebProcess.start(
            [
                Binaries.heidid, "--config", directory + "/heidi.yaml", "--state-dir", directory + "/state",
                "--runtime-dir", directory + "/run", "--socket", socket,
            ],
            environment: environment,
            log: directory + "/heidid.log"
        )
        try waitFor("heidid's socket") { FileSystem.exists(self.socket) }
    }

    /// Starts heidi-web on the same port as before (or a new one) and waits until it answers.
    func startWeb() throws {
        let log = directory + "/heidi-web.log"
        let before = (try? FileSystem.read(log).count) ?? 0
        web = try WebProcess.start(
            [
                WebProcess.heidiWeb, "--socket", socket, "--listen", "127.0.0.1:\(port)",
                "--password-file", directory + "/password", "--viewer-password-file", directory + "/viewer-password",
            ],
            environment: environment,
            log: log
        )
        try waitFor("heidi-web's listening line") {
            let text = String(decoding: ((try? FileSystem.read(log)) ?? []).dropFirst(before), as: UTF8.self)
            guard let range = text.range(of: "listening on http://127.0.0.1:") else { return false }
            self.port = Int(text[range.upperBound...].prefix { $0.isNumber }) ?? 0
            return self.port > 0
        }
    }

    func waitFor(_ what: String, timeout: Double = 20, _ condition: () throws -> Bool) throws {
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeout * 1e9)
        while MonotonicClock.nanoseconds() < deadline {
            if try condition() { return }
            usleep(20_000)
        }
        throw HarnessError("timed out waiting for \(what) (logs in \(directory))")
    }

    func client() -> TestHTTP { TestHTTP(port: port) }

    /// Waits until heidid reports `state` (through heidi-web).
    func waitForState(_ state: String, timeout: Double = 60) throws {
        try waitFor("state \(state)", timeout: timeout) {
            let reply = try client().request(
                "GET",
                "/api/v1/status",
                headers: [TestHTTP.basic("operator", Self.password)]
            )
            return reply.body.contains("\"state\":\"\(state)\"")
        }
    }
}
