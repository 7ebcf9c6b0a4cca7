import HeidiCore
import HeidiTestSupport
import Testing

@testable import HeidiValidation

#if canImport(Glibc)
import Glibc
#endif

/// The checks as supervised children, with fake toolchains (shell scripts) standing in for the real ones.
@Suite struct SupervisedCheckTests {
    static let pythonAnswer = fenced("print('hello')", tag: "python")

    /// A check that outlives the timeout is killed with its whole tree, and the sample is rejected as a timeout.
    @Test(arguments: [false, true])
    func timeoutKillsTheWholeTree(ignoringTerm: Bool) async throws {
        let directory = TestDirectory("timeout")
        defer { directory.remove() }
        let fake = directory.script(
            "python3",
            """
            \(ignoringTerm ? "trap '' TERM" : "")
            echo $$ > \(directory.path)/leader.pid
            sleep 600 &
            echo $! > \(directory.path)/child.pid
            wait
            """
        )
        var configuration = ValidationConfiguration(timeout: .seconds(1), terminationGrace: .milliseconds(300))
        configuration.toolchains[.python] = fake
        configuration.temporaryDirectory = directory.path
        let validator = CodeValidator(configuration: configuration)
        let started = MonotonicClock.nanoseconds()
        let report = await validator.validate(Self.pythonAnswer, expectedLanguage: "python")
        let seconds = Double(MonotonicClock.nanoseconds() - started) / 1e9
        #expect(report.rejectionReason == "timeout_python", "\(report.summary)")
        #expect(report.blocks.first?.validated == false)
        #expect(report.blocks.first?.diagnostic?.contains("no result within") == true)
        #expect(seconds >= 0.9, "returned after \(seconds) s, before the timeout")
        #expect(seconds < 60, "took \(seconds) s for a 1 s timeout (the tree sleeps 600 s)")
        let leader = try #require(await PidFile.read(directory.path + "/leader.pid"))
        let child = try #require(await PidFile.read(directory.path + "/child.pid"))
        #expect(!isAlive(leader), "the fake toolchain survived")
        #expect(!isAlive(child), "its child survived")
        // Only the fake and the pid files: the check's scratch directory is gone.
        #expect(directory.entries == ["child.pid", "leader.pid", "python3"])
    }

    /// At most `parallelism` checks run at once, over concurrent `validate` calls and blocks of one answer.
    @Test func parallelismBoundIsRespected() async throws {
        let directory = TestDirectory("parallel")
        defer { directory.remove() }
        let state = directory.path + "/state"
        mkdir(state, 0o700)
        let fake = directory.script(
            "node",
            """
            touch \(state)/running.$$
            ls \(state) | grep -c '^running' >> \(directory.path)/counts
            sleep 1
            rm -f \(state)/running.$$
            """
        )
        var configuration = ValidationConfiguration(parallelism: 2)
        configuration.toolchains[.javascript] = fake
        let validator = CodeValidator(configuration: configuration)
        let twoBlocks = fenced("console.log(1);", tag: "js") + fenced("console.log(2);", tag: "js")
        let reports = await withTaskGroup(of: ValidationReport.self) { group in
            for _ in 0..<3 { group.addTask { await validator.validate(twoBlocks, expectedLanguage: "javascript") } }
            var reports: [ValidationReport] = []
            for await report in group { reports.append(report) }
            return reports
        }
        #expect(reports.allSatisfy { $0.passed }, "\(reports.map(\.summary))")
        let counts = (Files.read(directory.path + "/counts") ?? "").split(separator: "\n").compactMap { Int($0) }
        #expect(counts.count == 6)
        #expect(counts.max() == 2, "concurrent checks seen: \(counts)")
    }

    /// Scratch directories are removed after passing, failing, timed-out and crashing checks.
    @Test func scratchDirectoriesAreRemoved() async {
        let scratch = TestDirectory("scratch")
        let fakes = TestDirectory("fakes")
        defer {
            scratch.remove()
            fakes.remove()
        }
        var configuration = ValidationConfiguration(timeout: .seconds(1), terminationGrace: .milliseconds(200))
        configuration.temporaryDirectory = scratch.path
        let real = realToolchainValidator(configuration)
        for (language, code) in [
            (CodeLanguage.python, "x = 1"), (.python, "x = ("), (.cpp, "int x;"), (.cpp, "int x"),
            (.javascript, "let a = 1;"), (.javascript, "let = ;"), (.go, "package p"), (.go, "package"),
        ] {
            _ = await real.validate(fenced(code, tag: language.rawValue), expectedLanguage: nil)
        }
        configuration.toolchains[.go] = fakes.script("slow-gofmt", "touch leftover.tmp; sleep 30")
        configuration.toolchains[.cpp] = fakes.script("crashing-g++", "touch leftover.o; kill -SEGV $$")
        let fake = CodeValidator(configuration: configuration)
        let timedOut = await fake.validate(fenced("package p", tag: "go"), expectedLanguage: nil)
        #expect(timedOut.rejectionReason == "timeout_go")
        let crashed = await fake.validate(fenced("int x;", tag: "cpp"), expectedLanguage: nil)
        #expect(crashed.rejectionReason == "toolchain_error_cpp", "\(crashed.summary)")
        #expect(crashed.blocks.first?.diagnostic?.contains("SIGSEGV") == true, "\(crashed.summary)")
        #expect(scratch.entries.isEmpty, "left behind: \(scratch.entries)")
    }

    /// Python checks write no bytecode outside their scratch directory (no `__pycache__` next to anything).
    @Test func pythonWritesNoBytecodeOutside() async {
        let scratch = TestDirectory("pycache")
        defer { scratch.remove() }
        var configuration = ValidationConfiguration()
        configuration.temporaryDirectory = scratch.path
        let validator = realToolchainValidator(configuration)
        let report = await validator.validate(
            fenced("import json\nprint(json.dumps({}))", tag: "python"),
            expectedLanguage: "python"
        )
        #expect(report.passed, "\(report.summary)")
        #expect(scratch.entries.isEmpty)
        #expect(!FileSystem.exists(FileSystem.currentDirectory() + "/__pycache__/snippet.cpython-311.pyc"))
    }

    /// The checks' environment holds nothing of this process's but PATH (so no credentials): PATH, HOME and
    /// TMPDIR in the scratch directory, a UTF-8 locale, the Python bytecode settings and the configured extras.
    @Test func checksGetAMinimalEnvironment() async throws {
        let directory = TestDirectory("environment")
        defer { directory.remove() }
        var configuration = ValidationConfiguration(environment: ["EXTRA": "yes"])
        configuration.toolchains[.go] = directory.script("gofmt", "env > \(directory.path)/env.txt")
        configuration.temporaryDirectory = directory.path
        let report = await CodeValidator(configuration: configuration).validate(
            fenced("package p", tag: "go"),
            expectedLanguage: nil
        )
        #expect(report.passed, "\(report.summary)")
        var environment: [String: String] = [:]
        for line in (Files.read(directory.path + "/env.txt") ?? "").split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            environment[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        let ours: Set<String> = [
            "PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "EXTRA",
            "HEIDI_STAGE_INSTANCE",
        ]
        let addedByTheShell: Set<String> = ["PWD", "OLDPWD", "SHLVL", "_"]
        let unexpected = Set(environment.keys).subtracting(ours).subtracting(addedByTheShell)
        #expect(unexpected.isEmpty, "inherited: \(unexpected.sorted())")
        #expect(environment["EXTRA"] == "yes")
        #expect(environment["LC_ALL"] == "C.UTF-8")
        #expect(environment["HOME"]?.hasPrefix(directory.path + "/heidi-check-") == true)
        #expect(environment["TMPDIR"] == environment["HOME"])
        #expect(environment["PATH"] == ProcessEnvironment.current()["PATH"])
    }

    /// Cancelling the caller stops a running check and its tree.
    @Test func cancellationStopsTheCheck() async throws {
        let directory = TestDirectory("cancel")
        defer { directory.remove() }
        let fake = directory.script("g++", "echo $$ > \(directory.path)/leader.pid; sleep 60")
        var configuration = ValidationConfiguration(timeout: .seconds(60), terminationGrace: .milliseconds(200))
        configuration.toolchains[.cpp] = fake
        let validator = CodeValidator(configuration: configuration)
        let task = Task { await validator.validate(fenced("int x;", tag: "cpp"), expectedLanguage: nil) }
        // Patient: under a loaded machine (other suites compiling with real toolchains) the fake toolchain may take
        // long to start; what is checked is what cancelling does once it runs.
        let leader = try #require(await PidFile.read(directory.path + "/leader.pid", waitingUpTo: 50))
        task.cancel()
        let report = await task.value
        #expect(report.rejectionReason == "cancelled", "\(report.summary)")
        #expect(!isAlive(leader))
    }

    /// A toolchain's unexpected exit status is a toolchain error, not the code's syntax error.
    @Test func unexpectedExitStatusIsAToolchainError() async {
        let directory = TestDirectory("status")
        defer { directory.remove() }
        var configuration = ValidationConfiguration()
        configuration.toolchains[.python] = directory.script(
            "python3",
            "echo 'pyenv: python3: command not found' >&2; exit 127"
        )
        configuration.toolchains[.go] = directory.script("gofmt", "echo 'snippet.go:1:1: expected package' >&2; exit 2")
        let validator = CodeValidator(configuration: configuration)
        let python = await validator.validate(Self.pythonAnswer, expectedLanguage: nil)
        #expect(python.rejectionReason == "toolchain_error_python")
        #expect(python.blocks.first?.diagnostic?.contains("status 127") == true)
        #expect(python.blocks.first?.diagnostic?.contains("command not found") == true)
        let go = await validator.validate(fenced("package p", tag: "go"), expectedLanguage: nil)
        #expect(go.rejectionReason == "syntax_error_go")
        #expect(go.blocks.first?.diagnostic == "snippet.go:1:1: expected package")
    }
}

/// Missing toolchains: rejected when failing closed (the default), accepted with a note when failing open.
@Suite struct MissingToolchainTests {
    static func configuration(failClosed: Bool) -> ValidationConfiguration {
        var configuration = ValidationConfiguration(failClosed: failClosed)
        configuration.toolchains[.go] = "/nonexistent/heidi/gofmt"
        configuration.toolchains[.python] = "heidi-no-such-python3"
        return configuration
    }

    @Test func reportedAtStartup() {
        let validator = CodeValidator(configuration: Self.configuration(failClosed: true))
        let available = validator.availableToolchains()
        #expect(available["go"] == false)
        #expect(available["python"] == false)
        #expect(validator.toolchainPath(for: .go) == nil)
    }

    @Test func failClosedRejects() async {
        let validator = CodeValidator(configuration: Self.configuration(failClosed: true))
        let go = await validator.validate(fenced("package main", tag: "go"), expectedLanguage: "go")
        #expect(!go.passed)
        #expect(go.rejectionReason == "toolchain_missing_go")
        #expect(go.blocks.first?.diagnostic?.contains("/nonexistent/heidi/gofmt") == true)
        let python = await validator.validate(fenced("def f():\n    pass"), expectedLanguage: nil)
        #expect(python.rejectionReason == "toolchain_missing_python")
        #expect(python.blocks.first?.diagnostic?.contains("not found on PATH") == true)
    }

    @Test func failOpenAcceptsWithANote() async {
        let validator = CodeValidator(configuration: Self.configuration(failClosed: false))
        let report = await validator.validate(fenced("package main", tag: "go"), expectedLanguage: "go")
        #expect(report.passed)
        #expect(report.rejectionReason == nil)
        #expect(report.notes == ["toolchain_missing_go"])
        #expect(report.blocks.first?.validated == false)
        #expect(report.blocks.first?.passed == true)
    }

    /// A toolchain that disappears after start-up (ENOENT at spawn) counts as missing too.
    @Test func vanishedToolchain() async {
        let directory = TestDirectory("vanish")
        let fake = directory.script("node", "exit 0")
        var configuration = ValidationConfiguration()
        configuration.toolchains[.javascript] = fake
        let validator = CodeValidator(configuration: configuration)
        directory.remove()
        let report = await validator.validate(fenced("let a = 1;", tag: "js"), expectedLanguage: nil)
        #expect(report.rejectionReason == "toolchain_missing_javascript", "\(report.summary)")
    }
}
