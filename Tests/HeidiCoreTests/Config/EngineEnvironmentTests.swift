import HeidiCore
import HeidiTestSupport
import Testing

@Suite("Original engine environment")
struct EngineEnvironmentTests {
    func load(_ yaml: String, env: [String: String] = [:]) throws -> HeidiConfig {
        let directory = makeTemporaryDirectory()
        try writeFile(directory + "/heidi.yaml", yaml)
        return try ConfigLoader.load(
            path: directory + "/heidi.yaml",
            environment: ["HOME": directory].merging(env) { $1 }
        )
    }

    @Test func loopShVariablesFromTheRunAndTheVars() throws {
        let config = try load(
            """
            pipeline: {engine_env: true, mode: full, rounds: 2, run_unit_tests: true,
                       vars: {samples: 12, seed: 7, train_steps: 3, lora_r: 8, max_output_length: 4596, python: python3}}
            paths: {state_dir: state}
            """
        )
        #expect(config.engineEnvironment)
        let values = Placeholders.values(
            config: config,
            runID: "run_x",
            round: 2,
            rounds: 2,
            mode: .full,
            stage: .validate
        )
        let env = EngineEnvironment.variables(values, runUnitTests: config.runUnitTests)
        let runDir = config.stateDir + "/runs/run_x"
        #expect(env["OUT_DIR"] == runDir && env["AUTOTRAIN_DIR"] == runDir)
        #expect(
            env["RUN_ID"] == "run_x" && env["ROUND"] == "2" && env["ROUNDS"] == "2" && env["PIPELINE_MODE"] == "full"
        )
        #expect(env["RUN_UNIT_TESTS"] == "1" && env["SAMPLES_PER_ROUND"] == "12")
        #expect(env["SEED"] == "7" && env["PYTHONHASHSEED"] == "7" && env["TRAIN_STEPS"] == "3" && env["LORA_R"] == "8")
        #expect(env["MAX_OUTPUT_LENGTH"] == "4596")
        #expect(env["PYTHON"] == nil, "vars that are not loop.sh settings are not exported")
        #expect(values["config_dir"] == FileSystem.dirname(config.source))
    }

    @Test func environmentOverridesTheVarsOnlyWithEngineEnv() throws {
        let yaml = "pipeline: {engine_env: true, vars: {train_steps: 3}}\n"
        let config = try load(yaml, env: ["TRAIN_STEPS": "9", "SAMPLES_PER_ROUND": "4"])
        #expect(config.vars["train_steps"] == "9" && config.vars["samples"] == "4")
        let without = try load("pipeline: {vars: {train_steps: 3}}\n", env: ["TRAIN_STEPS": "9"])
        #expect(without.vars["train_steps"] == "3" && !without.engineEnvironment)
    }

    @Test func progressKeyIsReadAndCheckedPerStage() throws {
        let config = try load(
            """
            stages:
              generate: {command: [x], progress: heidi-engine}
              train: {command: [x], progress: auto}
              eval: {command: [x], progress: 'it (?<done>\\d+)'}
            """
        )
        #expect(config.stages[.generate]?.progress == .engine && config.stages[.train]?.progress == .auto)
        #expect(
            config.stages[.eval]?.progress == .pattern(#"it (?<done>\d+)"#) && config.stages[.validate]?.progress == nil
        )
        #expect(throws: ConfigError.self) { try load("stages: {train: {command: [x], progress: bars}}\n") }
        do { _ = try load("stages: {train: {command: [x], progress: bars}}\n") } catch let error as ConfigError {
            #expect("\(error)".contains("stages.train.progress") && "\(error)".contains("heidi-engine"))
        }
    }
}
