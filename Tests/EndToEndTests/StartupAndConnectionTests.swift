#if canImport(Glibc)
import Glibc
#endif
import HeidiCore
import Testing

/// What operators see when something is in the way: a second daemon, no daemon, a stale socket, a bad config.
@Suite(.serialized)
struct StartupAndConnectionTests {
    @Test("a second heidid on the same state directory refuses to start and names the lock and its holder")
    func secondDaemonIsRefused() async throws {
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell())
        let first = try await s.startDaemon()
        let second = try await s.startDaemon(extraArguments: ["--socket", s.dir.file("second.sock")], waitUntilAnswering: false)
        let exit = await second.waitForExit(timeout: Session.patience)
        #expect(exit != nil && exit != 0, "second heidid exit \(exit.map(String.init) ?? "none (still running)")")
        let message = second.stderrText
        #expect(message.contains(s.stateDir + "/heidid.lock"), "stderr: \(message)")
        #expect(message.contains("pid \(first.pid)"), "stderr: \(message)")

        #expect(!first.hasExited)
        #expect(try await s.status().pid == first.pid)
        let journal = try s.events()
        #expect(journal.of("daemon_start").count == 1, "the refused daemon wrote nothing")
    }

    @Test("heidictl with no socket at the path exits 3 and names the path")
    func missingSocket() async throws {
        let s = try Session()
        defer { s.tearDown() }
        let result = try await s.ctl("status")
        #expect(result.status == 3, "\(result)")
        #expect(result.stderr.contains(s.socket), "\(result)")
        #expect(result.stderr.contains("no control socket"), "\(result)")
    }

    @Test("heidictl against a stale socket file (bound, nobody listening) exits 3 and says stale")
    func staleSocket() async throws {
        let s = try Session()
        defer { s.tearDown() }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #expect(fd >= 0)
        let bound = withUnixAddress(s.socket) { bind(fd, $0, $1) }
        #expect(bound == 0, "bind: \(String(cString: strerror(errno)))")
        close(fd)  // leaves the socket file behind, like a daemon that was killed
        for command in [["status"], ["start"]] {
            let result = try await Processes.run([Binaries.heidictl, "--socket", s.socket] + command)
            #expect(result.status == 3, "\(command): \(result)")
            #expect(result.stderr.contains(s.socket), "\(command): \(result)")
            #expect(result.stderr.contains("stale"), "\(command): \(result)")
        }
    }

    @Test("heidid --check-config accepts a valid file and prints the resolved settings")
    func checkConfigAccepts() async throws {
        let s = try Session()
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell(stopGrace: "3s"))
        let result = try await Processes.run([Binaries.heidid, "--check-config", "--config", try #require(s.configPath)])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("config OK"), "\(result)")
        #expect(result.stdout.contains("stop_grace 3"), "\(result)")
    }

    @Test("heidid --check-config: unknown keys and bad durations fail with exit 2, naming the file and the key",
          arguments: [
              ("pipeline:\n  mode: full\n  roundz: 3\n", "pipeline.roundz"),
              ("stage_defaults:\n  timeout: 5 fortnights\n", "stage_defaults.timeout"),
              ("stages:\n  train:\n    command: [\"true\"]\n    stop_grace: soon\n", "stages.train.stop_grace"),
          ])
    func checkConfigRejects(yaml: String, key: String) async throws {
        let s = try Session()
        defer { s.tearDown() }
        let bad = try s.dir.write("bad.yaml", yaml)
        let result = try await Processes.run([Binaries.heidid, "--check-config", "--config", bad])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains(bad), "names the file: \(result)")
        #expect(result.stderr.contains(key), "names the key: \(result)")
    }
}
