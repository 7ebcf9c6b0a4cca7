import HeidiCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What operators see when something is in the way: a second daemon, no daemon, a stale socket, a bad config.
@Suite(.serialized)
struct StartupAndConnectionTests {
    @Test("a second heidid on the same state directory refuses to start and names the lock and its holder")
    func secondDaemonIsRefused() async throws {
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell())
        let first = try await s.startDaemon()
        let second = try await s.startDaemon(
            extraArguments: ["--socket", s.dir.file("second.sock")],
            waitUntilAnswering: false
        )
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
        let result = try await Processes.run([
            Binaries.heidid, "--check-config", "--config", try #require(s.configPath),
        ])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("config OK"), "\(result)")
        #expect(result.stdout.contains("stop_grace 3"), "\(result)")
    }

    @Test(
        "heidid --check-config warns about what cannot run (exit 0), and --strict refuses it (exit 2), naming stage and path"
    )
    func checkConfigWarnsAboutMissingPaths() async throws {
        let s = try Session()
        defer { s.tearDown() }
        // A copied config whose relative repo_root points nowhere, a missing script, and stages left out.
        let yaml =
            "paths: {repo_root: ../engine-checkout}\nstages:\n  generate: {command: [\"true\"]}\n"
            + "  validate: {command: [sh, \"{repo_root}/validate.sh\"]}\n"
        let path = try s.dir.write("copied.yaml", yaml)
        let repoRoot = FileSystem.dirname(s.dir.path) + "/engine-checkout"
        let lenient = try await Processes.run([Binaries.heidid, "--check-config", "--config", path])
        #expect(lenient.status == 0, "\(lenient)")
        #expect(lenient.stdout.contains("config OK (4 warnings on stderr)"), "\(lenient)")
        #expect(lenient.stderr.contains("warning: paths.repo_root: \(repoRoot) is not a directory"), "\(lenient)")
        #expect(
            lenient.stderr.contains("warning: stages.validate.command: script \(repoRoot)/validate.sh does not exist"),
            "\(lenient)"
        )
        #expect(
            lenient.stderr.contains(
                "warning: stages.train: not set in \(path): falls back to the original engine's "
                    + "{repo_root}/scripts/04_train_qlora.py"
            ),
            "\(lenient)"
        )
        #expect(lenient.stderr.contains("warning: stages.eval: not set"), "\(lenient)")
        let strict = try await Processes.run([Binaries.heidid, "--check-config", "--strict", "--config", path])
        #expect(strict.status == 2, "\(strict)")
        #expect(strict.stderr.contains("4 warning(s), refused by --strict"), "\(strict)")
        // A config that can run passes --strict.
        try s.writeConfig(TestConfig.shell())
        let clean = try await Processes.run([
            Binaries.heidid, "--check-config", "--strict", "--config", try #require(s.configPath),
        ])
        #expect(clean.status == 0 && clean.stderr.isEmpty, "\(clean)")
        // --strict alone is a usage error, and usage errors exit 2 as documented (not ArgumentParser's 64).
        let alone = try await Processes.run([Binaries.heidid, "--strict"])
        #expect(alone.status == 2 && alone.stderr.contains("--strict applies only with --check-config"), "\(alone)")
        let unknown = try await Processes.run([Binaries.heidid, "--check-config", "--mode", "sometimes"])
        #expect(unknown.status == 2, "\(unknown)")
    }

    @Test("heidictl --config finds the socket of a daemon started with that config and --runtime-dir")
    func ctlFindsTheSocketThroughTheConfig() async throws {
        let s = try Session()
        defer { s.tearDown() }
        // The config names the state directory but not the socket; the daemon gets another runtime directory.
        try s.writeConfig(TestConfig.shell().replacing("paths:\n", with: "paths:\n  state_dir: \(s.stateDir)\n"))
        let config = try #require(s.configPath)
        let runtime = s.dir.file("elsewhere")
        let daemon = try DaemonProcess(
            arguments: ["--config", config, "--runtime-dir", runtime, "--log-target", "stderr"],
            environment: TestEnvironment.make(["HEIDI_E2E_SESSION": s.dir.path, "XDG_RUNTIME_DIR": s.dir.file("xdg")]),
            logPrefix: s.dir.file("heidid-runtime")
        )
        defer { daemon.forceStop() }
        let environment = TestEnvironment.make(["XDG_RUNTIME_DIR": s.dir.file("xdg")])
        var last: ProcessResult?
        let deadline = Clock.seconds() + Session.patience
        while Clock.seconds() < deadline && !daemon.hasExited {
            let result = try await Processes.run(
                [Binaries.heidictl, "--config", config, "status"],
                environment: environment
            )
            last = result
            if result.status == 0 { break }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        #expect(
            last?.status == 0,
            "heidictl --config did not reach the daemon at \(runtime)/heidi.sock: \(String(describing: last))\n\(daemon.stderrText)"
        )
        // $HEIDI_SOCKET alone finds it, and it comes before the config: heidictl reads it without the rest of the
        // environment, in the order `SocketLocator.resolve` keeps.
        var pointed = environment
        pointed["HEIDI_SOCKET"] = runtime + "/heidi.sock"
        let throughEnvironment = try await Processes.run([Binaries.heidictl, "status"], environment: pointed)
        #expect(throughEnvironment.status == 0, "\(throughEnvironment)")
        pointed["HEIDI_SOCKET"] = s.dir.file("nowhere.sock")
        let beforeConfig = try await Processes.run(
            [Binaries.heidictl, "--config", config, "status"],
            environment: pointed
        )
        #expect(beforeConfig.status == 3 && beforeConfig.stderr.contains("nowhere.sock"), "\(beforeConfig)")
        _ = await daemon.terminate()
        // Once the daemon is gone, the message says how to point heidictl at a daemon it cannot find.
        let gone = try await Processes.run([Binaries.heidictl, "--config", config, "status"], environment: environment)
        #expect(gone.status == 3, "\(gone)")
        #expect(gone.stderr.contains("pass its socket with --socket or $HEIDI_SOCKET"), "\(gone)")
    }

    @Test(
        "heidid --check-config: unknown keys and bad durations fail with exit 2, naming the file and the key",
        arguments: [
            ("pipeline:\n  mode: full\n  roundz: 3\n", "pipeline.roundz"),
            ("stage_defaults:\n  timeout: 5 fortnights\n", "stage_defaults.timeout"),
            ("stages:\n  train:\n    command: [\"true\"]\n    stop_grace: soon\n", "stages.train.stop_grace"),
        ]
    )
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
