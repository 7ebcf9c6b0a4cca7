import HeidiCore
import HeidiTestSupport
import Testing

@Suite("Configuration")
struct ConfigTests {
    func load(
        _ yaml: String,
        env: [String: String] = [:],
        overrides: ConfigOverrides = ConfigOverrides()
    ) throws -> HeidiConfig {
        let directory = makeTemporaryDirectory()
        let path = directory + "/heidi.yaml"
        try writeFile(path, yaml)
        return try ConfigLoader.load(
            path: path,
            environment: ["HOME": directory].merging(env) { $1 },
            overrides: overrides
        )
    }

    func error(_ yaml: String, env: [String: String] = [:]) -> ConfigError? {
        do { _ = try load(yaml, env: env) } catch let error as ConfigError { return error } catch { return nil }
        return nil
    }

    @Test func fileValuesAndRelativePaths() throws {
        let config = try load(
            """
            pipeline: {mode: full, rounds: 4, run_unit_tests: true, vars: {samples: 7}}
            paths: {state_dir: state, repo_root: ../repo}
            stage_defaults: {timeout: 15m, stop_grace: 3s, env: {A: "1"}}
            stages:
              generate: {command: [python3, "{repo_root}/gen.py", --samples, "{samples}"]}
              validate: {command: "echo validate {round}", env: {B: "2"}}
              test: {command: [true]}
              train: {command: [true], timeout: 2h, stop_grace: 120}
              eval: {command: [true]}
            journal: {fsync: batch, rotate_size: 1MiB}
            """
        )
        #expect(config.mode == .full && config.rounds == 4 && config.runUnitTests)
        #expect(config.stateDir.hasSuffix("/state") && config.stateDir.hasPrefix("/"))
        #expect(!config.repoRoot.contains(".."))
        #expect(config.stages[.generate]?.timeout == 900 && config.stages[.generate]?.stopGrace == 3)
        #expect(config.stages[.train]?.timeout == 7200 && config.stages[.train]?.stopGrace == 120)
        #expect(config.stages[.validate]?.command == ["/bin/sh", "-c", "echo validate {round}"])
        #expect(config.stages[.validate]?.env == ["A": "1", "B": "2"])
        #expect(config.stages[.eval]?.allowFailure == true, "eval failures are allowed by default")
        #expect(config.journalFsync == .batch && config.journalRotateSize == 1 << 20)
        #expect(config.socketPath.hasSuffix("/heidi.sock"))
    }

    @Test func precedenceDefaultsFileEnvironmentFlags() throws {
        let yaml = "pipeline: {rounds: 2, mode: collect}\n"
        #expect(try load(yaml).rounds == 2)
        let fromEnv = try load(
            yaml,
            env: [
                "ROUNDS": "5", "PIPELINE_MODE": "full", "RUN_UNIT_TESTS": "1", "OUT_DIR": "/tmp/o",
                "MAX_WALL_TIME_MINUTES": "2", "HEIDI_MOCK_SUBPROCESSES": "1", "RUN_ID": "run_x",
            ]
        )
        #expect(fromEnv.rounds == 5 && fromEnv.mode == .full && fromEnv.runUnitTests)
        #expect(
            fromEnv.stateDir == "/tmp/o" && fromEnv.maxWait == 120 && fromEnv.mockSubprocesses
                && fromEnv.nextRunID == "run_x"
        )
        let fromFlags = try load(
            yaml,
            env: ["ROUNDS": "5"],
            overrides: ConfigOverrides(stateDir: "/tmp/f", mode: .collect, rounds: 9)
        )
        #expect(fromFlags.rounds == 9 && fromFlags.stateDir == "/tmp/f" && fromFlags.mode == .collect)
        #expect(try load(yaml, env: ["HEIDI_SOCKET": "/tmp/s.sock"]).socketPath == "/tmp/s.sock")
    }

    @Test(arguments: [
        ("bogus: 1\n", "bogus", "unknown section"),
        ("pipeline: {rounds: zero}\n", "pipeline.rounds", "integer"),
        ("pipeline: {rounds: 0}\n", "pipeline.rounds", ">= 1"),
        ("pipeline: {mode: sometimes}\n", "pipeline.mode", "full, collect"),
        ("stages: {train: {command: [x], timeout: 2x}}\n", "stages.train.timeout", "invalid duration"),
        ("stages: {train: {command: [x], tmeout: 2h}}\n", "stages.train.tmeout", "unknown key"),
        ("stages: {deploy: {command: [x]}}\n", "stages.deploy", "unknown stage"),
        ("stages: {train: {timeout: 2h}}\n", "stages.train", "missing 'command'"),
        ("stages: {train: {command: [x, \"{nope}\"]}}\n", "stages.train.command", "unknown placeholder {nope}"),
        ("journal: {fsync: sometimes}\n", "journal.fsync", "always, batch, never"),
        ("limits: {max_cpu_pct: 150}\n", "limits.max_cpu_pct", "percentage"),
        ("pipeline: [1, 2]\n", "pipeline", "mapping"),
        ("pipeline: {rounds: 3\n", "", "invalid YAML"),
    ])
    func errorsNameTheFileAndKey(_ yaml: String, _ key: String, _ text: String) throws {
        let failure = try #require(error(yaml))
        #expect(failure.source.hasSuffix("heidi.yaml"))
        #expect(failure.key == key)
        #expect(failure.description.contains(text), "\(failure)")
        #expect(failure.description.contains("heidi.yaml"))
    }

    @Test func yamlErrorsCarryTheLine() throws {
        let failure = try #require(error("pipeline:\n  rounds: 2\n  colour: blue\n"))
        #expect(failure.line == 3, "\(failure)")
        #expect(failure.description.contains("heidi.yaml:3: pipeline.colour"))
    }

    /// Placeholder mistakes are reported where they were written (file, line, the exact key), with a hint, and
    /// YAML's reading of an unquoted `{name}` as a mapping is explained.
    @Test(
        arguments: [
            // A misspelt placeholder: the line of the argument, and the name it was probably meant to be.
            (
                "pipeline:\n  vars: {samples: 5}\nstages:\n  generate:\n    command: [gen,\n      \"{sample}\"]\n",
                6, "stages.generate.command", "did you mean {samples}?"
            ),
            // pipeline.vars written after the stages still counts.
            ("stages:\n  train:\n    command: [t, \"{steps}\"]\npipeline:\n  vars: {steps: 3}\n", nil, "", ""),
            // An unclosed brace in stage_defaults.env is stage_defaults' fault, not the first stage's.
            (
                "stage_defaults:\n  env:\n    A: \"1\"\n    OUT: \"{run_dir\"\n", 4, "stage_defaults.env.OUT",
                "write {{ for a literal brace"
            ),
            (
                "stages:\n  eval:\n    command: [e]\n    env: {X: \"{round}\", Y: \"a{b\"}\n", 4, "stages.eval.env.Y",
                "unclosed '{'"
            ),
            (
                "stages:\n  eval:\n    command: [e]\n    cwd: \"{run_dir}/{oops\"\n", 4, "stages.eval.cwd",
                "unclosed '{'"
            ),
            // A stray closing brace is refused, not taken into the value.
            (
                "stages:\n  train:\n    command: \"echo {round}}\"\n", 3, "stages.train.command",
                "write }} for a literal brace"
            ),
            ("stages:\n  train:\n    command: [t, \"x}\"]\n", 3, "stages.train.command", "without a matching '{'"),
            // An unquoted {samples} is a YAML mapping: say so and how to write it.
            (
                "stages:\n  generate:\n    command: [gen, --n,\n              {samples}]\n", 4,
                "stages.generate.command",
                "YAML reads an unquoted {...} as a mapping; quote the value, e.g. \"{samples}\""
            ),
            (
                "stages:\n  generate:\n    command: [gen]\n    env: {N: {samples}}\n", 4, "stages.generate.env.N",
                "quote the value"
            ),
            // ... and where it makes the line invalid YAML, the same hint with the value as written.
            (
                "stages:\n  train:\n    command: [python3, {repo_root}/train.py]\n", 3, "",
                "quote the value, e.g. \"{repo_root}/train.py\""
            ),
        ] as [(String, Int?, String, String)]
    )
    func placeholderMistakesNameTheLineAndKey(_ yaml: String, _ line: Int?, _ key: String, _ hint: String) throws {
        guard let line else {
            #expect(error(yaml) == nil)
            return
        }
        let failure = try #require(error(yaml))
        #expect(failure.source.hasSuffix("heidi.yaml"), "\(failure)")
        #expect(failure.line == line, "\(failure)")
        #expect(failure.key == key, "\(failure)")
        #expect(failure.description.contains(hint), "\(failure)")
    }

    @Test func placeholderBracesMustBalance() throws {
        #expect(throws: PlaceholderError.unmatched("a}b")) { try Placeholders.expand("a}b") { _ in "" }.get() }
        #expect(try Placeholders.expand("}}{{") { _ in "" }.get() == "}{")
        #expect(PlaceholderError.unknown("rund").describe(vars: []).contains("did you mean {round}?"))
        #expect(!PlaceholderError.unknown("zzzzzz").describe(vars: []).contains("did you mean"))
    }

    @Test func environmentErrorsNameTheVariable() throws {
        let failure = try #require(error("", env: ["ROUNDS": "many"]))
        #expect(failure.source == "environment" && failure.key == "ROUNDS")
    }

    @Test func missingFileIsAnErrorNamingIt() {
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: "/nonexistent/heidi.yaml", environment: [:]) }
    }

    @Test func placeholdersExpandAndEscape() throws {
        let values = ["round": "2", "run_dir": "/r"]
        #expect(
            try Placeholders.expand("{run_dir}/raw_{round}.jsonl {{literal}}") { values[$0] }.get()
                == "/r/raw_2.jsonl {literal}"
        )
        #expect(throws: PlaceholderError.self) { try Placeholders.expand("{unclosed") { values[$0] }.get() }
    }

    @Test func unitsParse() {
        #expect(Units.parseDuration("90") == 90)
        #expect(Units.parseDuration("90s") == 90)
        #expect(Units.parseDuration("15m") == 900)
        #expect(Units.parseDuration("2h") == 7200)
        #expect(Units.parseDuration("250ms") == 0.25)
        #expect(Units.parseDuration("-1s") == nil && Units.parseDuration("2x") == nil)
        #expect(
            Units.parseSize("64MiB") == 64 << 20 && Units.parseSize("1024") == 1024 && Units.parseSize("lots") == nil
        )
    }

    @Test func runIDsAreUniqueAndSafe() {
        let time = Timestamp(parsing: "2026-11-22T06:30:00Z")!
        #expect(RunID.make(at: time) { _ in false } == "run_20261122_063000")
        #expect(RunID.make(at: time) { $0 == "run_20261122_063000" } == "run_20261122_063000_2")
        #expect(RunID.isValid("run_x-1.2") && !RunID.isValid("../etc") && !RunID.isValid(""))
    }
}
