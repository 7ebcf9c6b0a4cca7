import HeidiCore
import HeidiTestSupport
import Testing

/// `heidid --check-config`'s look at the file system: what would fail only when a stage runs.
@Suite("Configuration check")
struct ConfigCheckTests {
    /// A scratch directory with a config file written into it, loaded as heidid loads it.
    func load(_ yaml: String, in directory: String = makeTemporaryDirectory()) throws -> HeidiConfig {
        let path = directory + "/heidi.yaml"
        try writeFile(path, yaml)
        return try ConfigLoader.load(path: path, environment: ["HOME": directory])
    }

    func warnings(_ config: HeidiConfig, path: String = "/usr/bin:/bin") -> [ConfigWarning] {
        ConfigCheck.warnings(config, environment: ["PATH": path])
    }

    /// Every stage defined, with programs that exist: no warnings.
    static func stages(_ commands: [Stage: String] = [:]) -> String {
        "stages:\n" + Stage.allCases.map { "  \($0.rawValue): {command: \(commands[$0] ?? "[\"true\"]")}\n" }.joined()
    }

    @Test func aRunnableConfigHasNoWarnings() throws {
        let directory = makeTemporaryDirectory()
        try writeFile(directory + "/train.py", "print(1)\n")
        let config = try load(
            "paths: {repo_root: .}\n"
                + Self.stages([
                    .train: "[sh, \"{repo_root}/train.py\", --out, \"{run_dir}/x\"]",
                    .eval: "[sh, -c, \"exit 0\"]",
                    .generate: "\"echo {round}\"",
                ]),
            in: directory
        )
        #expect(warnings(config) == [])
    }

    @Test func aMissingRepoRootIsNamed() throws {
        let config = try load("paths: {repo_root: ../nowhere-at-all}\n" + Self.stages())
        let found = warnings(config)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.key == "paths.repo_root")
        #expect(found.first?.path == config.repoRoot && config.repoRoot.hasSuffix("/nowhere-at-all"))
        #expect(found.first?.description.contains("resolved against") == true, "\(found)")
    }

    @Test func missingProgramsAndScriptsAreNamedWithTheirStage() throws {
        let directory = makeTemporaryDirectory()
        try writeFile(directory + "/plain.txt", "")
        let config = try load(
            "paths: {repo_root: .}\n"
                + Self.stages([
                    .generate: "[no-such-program-xyz, a]",
                    .validate: "[\"{repo_root}/bin/validate\"]",
                    .train: "[python3, -u, \"{repo_root}/scripts/train.py\", --steps, \"{round}\"]",
                    .eval: "[./plain.txt]",
                    .test: "[sh, \"{run_dir}/made-at-run-time.sh\"]",
                ]),
            in: directory
        )
        let found = warnings(config, path: "/usr/bin:/bin")
        let byKey = Dictionary(found.map { ($0.key, $0) }) { first, _ in first }
        #expect(
            byKey["stages.generate.command"]?.message.contains(
                "no-such-program-xyz is not found in PATH (/usr/bin:/bin)"
            ) == true,
            "\(found)"
        )
        #expect(byKey["stages.validate.command"]?.path == directory + "/bin/validate", "\(found)")
        #expect(
            byKey["stages.train.command"]?.message.contains("script \(directory)/scripts/train.py does not exist")
                == true,
            "\(found)"
        )
        #expect(
            byKey["stages.eval.command"]?.message.contains("\(directory)/plain.txt is not an executable file") == true,
            "\(found)"
        )
        #expect(
            byKey["stages.test.command"] == nil,
            "not run (run_unit_tests is false), and {run_dir} is only known at run time"
        )
        #expect(found.count == 4, "\(found)")
    }

    @Test func stagesLeftOutFallBackToTheOriginalScriptsAndSaySo() throws {
        let directory = makeTemporaryDirectory()
        let config = try load(
            "paths: {repo_root: .}\nstages:\n  generate: {command: [\"true\"]}\n  validate: {command: [\"true\"]}\n",
            in: directory
        )
        let found = warnings(config)
        #expect(found.map(\.key) == ["stages.train", "stages.eval"], "\(found)")
        let train = try #require(found.first)
        #expect(
            train.message.contains(
                "not set in \(directory)/heidi.yaml: falls back to the original engine's {repo_root}/scripts/04_train_qlora.py"
            )
        )
        #expect(train.message.contains("script \(directory)/scripts/04_train_qlora.py does not exist"), "\(train)")
        #expect(train.message.contains("define stages.train.command"))
    }

    @Test func mockedStagesNeedNothingOnDisk() throws {
        var config = try load("paths: {repo_root: /nonexistent/x}\n")
        config.mockSubprocesses = true
        #expect(warnings(config) == [])
    }

    @Test func scriptArgumentsAreRecognised() {
        #expect(ConfigCheck.scriptArgument(["-u", "a/b.py", "x"]) == "a/b.py")
        #expect(ConfigCheck.scriptArgument(["-c", "print(1)"]) == nil)
        #expect(ConfigCheck.scriptArgument(["-m", "pkg.main"]) == nil)
        #expect(
            ConfigCheck.scriptArgument(["-W", "ignore", "run.py"]) == nil,
            "an option's value is not taken for a script"
        )
        #expect(ConfigCheck.scriptArgument(["train.py"]) == "train.py")
    }
}
