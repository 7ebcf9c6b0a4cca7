import HeidiCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The shipped profile `config/heidi-engine.yaml` end to end, run against the stand-in checkout
/// (`contrib/heidi-engine/stand-in`), whose scripts honour the original engine's contract: its arguments, variables,
/// path containment, strict schemas, provenance rule, file names, exit codes and progress output (SPEC §11).
@Suite(.serialized)
struct EngineProfileTests {
    static let repositoryRoot = FileSystem.dirname(FileSystem.dirname(FileSystem.dirname(#filePath)))
    static let profile = repositoryRoot + "/config/heidi-engine.yaml"
    static let standIn = repositoryRoot + "/contrib/heidi-engine/stand-in"

    /// A session running the profile on the stand-in; `environment` reaches the daemon (and so the stages).
    static func session(_ environment: [String: String] = [:]) async throws -> Session {
        _ = try requireTool("python3")
        let s = try Session(environment: ["SAMPLES_PER_ROUND": "20", "TRAIN_STEPS": "3"].merging(environment) { $1 })
        s.useConfig(profile)
        do { try await s.startDaemon(extraArguments: ["--repo-root", standIn]) } catch {
            s.tearDown()  // the caller's defer is not set up yet: without this a heidid that answered late stays behind
            throw error
        }
        return s
    }

    /// The loop.sh variables each stand-in script saw (`standin-env.jsonl`), by script and round.
    static func environments(_ runDir: String) throws -> [(script: String, cwd: String, env: [String: String])] {
        let text = String(decoding: try FileSystem.read(runDir + "/standin-env.jsonl"), as: UTF8.self)
        return try text.split(separator: "\n").map { line in
            let entry = try JSONCoding.decode(EnvironmentEntry.self, from: Array(line.utf8))
            return (entry.script, entry.cwd, entry.env)
        }
    }

    struct EnvironmentEntry: Decodable {
        var script: String
        var cwd: String
        var env: [String: String]
    }

    static func lineCount(_ path: String) throws -> Int { try FileSystem.read(path).filter { $0 == 0x0a }.count }

    @Test("full mode, two rounds with the test stage: every script runs unmodified with loop.sh's variables and files")
    func fullModeTwoRounds() async throws {
        let s = try await Self.session(["RUN_UNIT_TESTS": "1"])
        defer { s.tearDown() }
        let start = try await s.ctl("start", "--mode", "full", "--rounds", "2")
        #expect(start.status == 0, "start: \(start)")
        let events = try await s.waitForEvent("pipeline_complete", timeout: 120)
        for round in Int64(1)...2 {
            for stage in Stage.allCases {
                let ends = events.of("stage_end", stage: stage.rawValue, round: round)
                #expect(
                    ends.count == 1 && ends.allSatisfy { $0.level == "info" && $0.message.contains("finished") },
                    "round \(round) \(stage.rawValue): \(ends.map(\.message))"
                )
            }
        }
        let status = try await s.waitForStatus("IDLE after the run") { $0.state == .idle }
        #expect(status.lastError == nil)
        let runID = try #require(status.runID)
        let runDir = s.stateDir + "/runs/" + runID
        for round in 1...2 {
            let data = runDir + "/data/"
            #expect(try Self.lineCount(data + "raw_round_\(round).jsonl") == 20)
            // 02 kept every record: SKIP_PROVENANCE_CHECK works around 01's missing signatures.
            #expect(try Self.lineCount(data + "clean_round_\(round).jsonl") == 20)
            #expect(try Self.lineCount(data + "tested_round_\(round).jsonl") == 20)
            // loop.sh's split of 20 lines at VAL_RATIO 0.05: 19 train, 1 validation.
            #expect(try Self.lineCount(data + "train_round_\(round).jsonl") == 19)
            #expect(try Self.lineCount(data + "val_round_\(round).jsonl") == 1)
            #expect(FileSystem.isDirectory(runDir + "/out_lora_round_\(round)/final"))
            #expect(FileSystem.exists(runDir + "/out_lora_round_\(round)/metrics.json"))
            #expect(FileSystem.exists(runDir + "/eval/report_round_\(round).json"))
        }
        let seen = try Self.environments(runDir)
        #expect(seen.map(\.script) == ["01", "02", "03", "04", "05", "01", "02", "03", "04", "05"])
        for (index, entry) in seen.enumerated() {
            let round = index < 5 ? "1" : "2"
            #expect(entry.cwd == runDir, "\(entry.script) runs in the run directory")
            #expect(entry.env["OUT_DIR"] == runDir && entry.env["AUTOTRAIN_DIR"] == runDir, "\(entry)")
            #expect(
                entry.env["RUN_ID"] == runID && entry.env["ROUND"] == round && entry.env["ROUNDS"] == "2",
                "\(entry)"
            )
            #expect(entry.env["PIPELINE_MODE"] == "full" && entry.env["RUN_UNIT_TESTS"] == "1", "\(entry)")
            // From the profile's vars, with the daemon's environment overriding them as it overrode loop.sh's.
            #expect(entry.env["SAMPLES_PER_ROUND"] == "20" && entry.env["TRAIN_STEPS"] == "3", "\(entry)")
            #expect(
                entry.env["SEED"] == "42" && entry.env["PYTHONHASHSEED"] == "42" && entry.env["LORA_R"] == "32",
                "\(entry)"
            )
            #expect(entry.env["MAX_OUTPUT_LENGTH"] == "4596" && entry.env["UNIT_TEST_TIMEOUT"] == "30", "\(entry)")
            #expect(entry.env["PYTHONPATH"] == Self.standIn && entry.env["SKIP_PROVENANCE_CHECK"] == "1", "\(entry)")
        }
    }

    @Test("collect mode, two rounds: rounds stop after validate; train-now splits and trains on that round's data")
    func collectModeWithTrainNow() async throws {
        let s = try await Self.session()
        defer { s.tearDown() }
        let start = try await s.ctl("start", "--mode", "collect", "--rounds", "2")
        #expect(start.status == 0, "start: \(start)")
        let first = try await s.waitForStatus("round 1 collected", timeout: 60) {
            $0.state == .idle && $0.awaitingTrainNow && $0.round == 1
        }
        let runDir = s.stateDir + "/runs/" + (try #require(first.runID))
        #expect(FileSystem.exists(runDir + "/data/clean_round_1.jsonl"))
        #expect(!FileSystem.exists(runDir + "/data/train_round_1.jsonl"), "nothing trains before train-now")

        #expect(try await s.ctl("train-now").status == 0)
        try await s.waitForStatus("round 2 collected", timeout: 60) {
            $0.state == .idle && $0.awaitingTrainNow && $0.round == 2
        }
        #expect(FileSystem.isDirectory(runDir + "/out_lora_round_1/final"))
        #expect(FileSystem.exists(runDir + "/eval/report_round_1.json"))
        #expect(!FileSystem.exists(runDir + "/out_lora_round_2"))

        #expect(try await s.ctl("train-now").status == 0)
        let events = try await s.waitForEvent("pipeline_complete", timeout: 60)
        #expect(events.of("stage_end").allSatisfy { $0.level == "info" }, "\(events.of("stage_end").map(\.message))")
        #expect(FileSystem.isDirectory(runDir + "/out_lora_round_2/final"))
        #expect(try Self.lineCount(runDir + "/data/train_round_2.jsonl") == 19)
        let seen = try Self.environments(runDir)
        #expect(seen.map(\.script) == ["01", "02", "04", "05", "01", "02", "04", "05"])
        #expect(seen.allSatisfy { $0.env["PIPELINE_MODE"] == "collect" && $0.env["RUN_UNIT_TESTS"] == "0" })
    }

    @Test(
        "progress printed by 01 (the original's Generated lines) and 04 (a tqdm bar redrawn with \\r) shows in status"
    )
    func progressInStatus() async throws {
        let notify = try TempDirectory()
        defer { notify.remove() }
        let listener = try NotifyListener(path: notify.file("notify.sock"))
        let s = try await Self.session([
            "STANDIN_STEP_SECONDS": "0.25", "SAMPLES_PER_ROUND": "40", "TRAIN_STEPS": "40",
            "NOTIFY_SOCKET": listener.path,
        ])
        defer { s.tearDown() }
        #expect(try await s.ctl("start", "--mode", "full", "--rounds", "1").status == 0)
        let generating = try await s.waitForStatus("generate progress") {
            $0.stage == "generate" && ($0.child?.progress?.done ?? 0) >= 3
        }
        let generated = try #require(generating.child?.progress)
        #expect(generated.total == 40 && generated.percent == (generated.done / 40 * 1000).rounded() / 10)
        #expect(
            (generated.rate ?? 0) > 0 && generated.etaSeconds != nil,
            "rate and ETA as 01 printed them: \(generated)"
        )
        /// Waits for a status, reading the notify socket meanwhile (sd_notify blocks once its small queue is full).
        func drainingWait(
            _ what: String,
            _ condition: @escaping (StatusSnapshot) -> Bool
        ) async throws -> StatusSnapshot {
            try await s.waitUntil(what, timeout: 60) { () async throws -> StatusSnapshot? in
                _ = await listener.next(timeout: 0.05) { _ in false }
                let status = try await s.status()
                return condition(status) ? status : nil
            }
        }
        // systemd's status line carries it too.
        let line = await listener.next(timeout: Session.patience) {
            NotifyListener.value("STATUS", in: $0)?.contains("/40 (") == true
        }
        #expect(
            line.flatMap { NotifyListener.value("STATUS", in: $0) }?.hasPrefix("COLLECTING (generate) round 1/1")
                == true,
            "no STATUS= with the output's progress; got \(listener.statuses)"
        )
        let human = try await s.ctl("status")
        #expect(human.status == 0 && human.stdout.contains("progress") && human.stdout.contains("/40 ("), "\(human)")

        // 04's bar never ends its line until it closes: only the carriage-return redraws can move it.
        let training = try await drainingWait("train progress") {
            $0.stage == "train" && ($0.child?.progress?.done ?? 0) >= 3 && $0.child?.progress?.total == 40
        }
        let trained = try #require(training.child?.progress)
        #expect((trained.done) < 40 && (trained.rate ?? 0) > 0, "\(trained)")
        _ = await listener.next(timeout: 0.05) { _ in false }
        let metrics = try await Processes.run([
            try requireTool("curl"), "--silent", "--max-time", "10", "--unix-socket", s.socket,
            "http://localhost/metrics",
        ])
        #expect(
            metrics.stdout.contains("heidi_stage_progress_total{stage=\"train\"} 40"),
            "\(metrics.stdout.suffix(800))"
        )
        _ = await listener.next(timeout: 0.05) { _ in false }
        #expect(try await s.ctl("stop").status == 0)
        let stopped = try await drainingWait("IDLE after stop") { $0.state == .idle }
        #expect(stopped.child == nil)
    }

    @Test("--check-config on the profile: clean with a checkout; names each missing script without one")
    func checkConfig() async throws {
        let with = try await Processes.run([
            Binaries.heidid, "--check-config", "--config", Self.profile, "--repo-root", Self.standIn,
        ])
        #expect(with.status == 0 && with.stdout.contains("config OK"), "\(with)")
        #expect(!with.stderr.contains("warning"), "\(with)")

        let dir = try TempDirectory()
        defer { dir.remove() }
        let missing = dir.file("no-checkout")
        let without = try await Processes.run([
            Binaries.heidid, "--check-config", "--config", Self.profile, "--repo-root", missing,
        ])
        #expect(without.stderr.contains("paths.repo_root: \(missing) is not a directory"), "\(without)")
        for script in ["01_teacher_generate.py", "02_validate_clean.py", "04_train_qlora.py", "05_eval.py"] {
            #expect(without.stderr.contains("\(missing)/scripts/\(script) does not exist"), "\(without)")
        }
        let noPython = try await Processes.run(
            [Binaries.heidid, "--check-config", "--config", Self.profile, "--repo-root", Self.standIn],
            environment: TestEnvironment.make(["PATH": dir.path])
        )
        #expect(noPython.stderr.contains("program python3 is not found in PATH"), "\(noPython)")
    }
    @Test("heidictl init writes a config for a checkout (virtualenv, GPUs), checks it, and heidid runs a round on it")
    func initWritesAStarterConfig() async throws {
        let s = try Session()
        defer { s.tearDown() }
        let python3 = try requireTool("python3")
        // A virtualenv (its interpreter) and an nvidia-smi that lists one GPU.
        let venv = s.dir.file("venv")
        try FileSystem.createDirectories(venv + "/bin")
        #expect(symlink(python3, venv + "/bin/python") == 0)
        let tools = s.dir.file("tools")
        try FileSystem.createDirectories(tools)
        try FileSystem.writeAtomically(
            tools + "/nvidia-smi",
            Array("#!/bin/sh\necho '0, NVIDIA A100-SXM4-80GB, 81920 MiB'\n".utf8),
            mode: 0o755
        )
        let path = tools + ":" + (TestEnvironment.inherited["PATH"] ?? "/usr/bin:/bin")
        let target = s.dir.file("heidi.yaml")
        let environment = TestEnvironment.make(["PATH": path, "VIRTUAL_ENV": venv])
        let result = try await Processes.run(
            [Binaries.heidictl, "init", Self.standIn, "--output", target],
            environment: environment
        )
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("checked: every stage's program and script is in place"), "\(result)")
        #expect(result.stdout.contains("heidid --config \(target)"), "prints the next command: \(result)")
        let written = String(decoding: try FileSystem.read(target), as: UTF8.self)
        #expect(written.contains("repo_root: \"\(Self.standIn)\""))
        #expect(written.contains("python: \"\(venv)/bin/python\""))
        #expect(written.contains("# GPUs: 0, NVIDIA A100-SXM4-80GB, 81920 MiB") && written.contains("  mode: full"))
        #expect(!written.contains("{config_dir}"), "the helper is named by its absolute path")

        // The written config runs as it is: no --repo-root, no environment added.
        s.useConfig(target)
        try await s.startDaemon(environment: ["SAMPLES_PER_ROUND": "5"])
        #expect(try await s.ctl("start", "--rounds", "1").status == 0)
        let events = try await s.waitForEvent("pipeline_complete", timeout: 60)
        #expect(
            events.of("stage_end").count == 4 && events.of("stage_end").allSatisfy { $0.level == "info" },
            "\(events.of("stage_end").map(\.message))"
        )
        #expect(events.of("stage_start", stage: "generate").first?.message.contains("\(venv)/bin/python") == true)

        // No GPU: collect mode. An existing file is kept; a directory without the scripts is refused.
        let plain = TestEnvironment.make(["PATH": FileSystem.dirname(python3) + ":/usr/bin:/bin"])
        let again = try await Processes.run(
            [Binaries.heidictl, "init", Self.standIn, "--output", target],
            environment: plain
        )
        #expect(again.status == 2 && again.stderr.contains("--force"), "\(again)")
        let forced = try await Processes.run(
            [Binaries.heidictl, "init", Self.standIn, "--output", target, "--force"],
            environment: plain
        )
        #expect(forced.status == 0, "\(forced)")
        #expect(String(decoding: try FileSystem.read(target), as: UTF8.self).contains("  mode: collect"))
        let notACheckout = try await Processes.run([
            Binaries.heidictl, "init", s.dir.path, "--output", s.dir.file("x.yaml"),
        ])
        #expect(
            notACheckout.status == 2 && notACheckout.stderr.contains("not a heidi-engine checkout"),
            "\(notACheckout)"
        )
    }
}
