import HeidiCore
import HeidiTestSupport
import Testing

/// `executor:`, `slurm:` and `queue_timeout` of a stage (docs/slurm.md): read, defaulted and validated at load.
@Suite("Configuration: Slurm executor")
struct ConfigSlurmTests {
    func load(_ yaml: String) throws -> HeidiConfig {
        let directory = makeTemporaryDirectory()
        let path = directory + "/heidi.yaml"
        try writeFile(path, yaml)
        return try ConfigLoader.load(path: path, environment: ["HOME": directory])
    }

    func error(_ yaml: String) -> ConfigError? {
        do { _ = try load(yaml) } catch let error as ConfigError { return error } catch { return nil }
        return nil
    }

    @Test func stagesRunLocallyByDefault() throws {
        let config = try load("stages: {train: {command: [python3, t.py]}}")
        #expect(config.stages[.train]?.executor == .local)
        #expect(config.stages[.train]?.queueTimeout == nil)
        #expect(config.stages[.generate]?.executor == .local)
    }

    @Test func everySlurmKeyIsRead() throws {
        let config = try load(
            """
            stages:
              train:
                command: [python3, train.py]
                timeout: 2h
                executor: slurm
                queue_timeout: 30m
                slurm:
                  partition: gpu
                  account: ml-team
                  qos: high
                  gpus: "a100:2"
                  nodes: 2
                  ntasks_per_node: 1
                  cpus_per_task: 8
                  mem: 64G
                  time_limit: 3h
                  requeue: true
                  extra: ["--constraint=a100", "--exclusive"]
            """
        )
        let train = try #require(config.stages[.train])
        #expect(train.queueTimeout == 1800)
        #expect(
            train.executor
                == .slurm(
                    SlurmJobSettings(
                        partition: "gpu",
                        account: "ml-team",
                        qos: "high",
                        gpus: "a100:2",
                        nodes: 2,
                        ntasksPerNode: 1,
                        cpusPerTask: 8,
                        mem: "64G",
                        timeLimit: 10800,
                        requeue: true,
                        extra: ["--constraint=a100", "--exclusive"]
                    )
                )
        )
    }

    @Test func aSlurmStageWithoutSettingsTakesTheClustersDefaults() throws {
        let config = try load("stages: {train: {command: [t], executor: slurm}}")
        #expect(config.stages[.train]?.executor == .slurm(SlurmJobSettings()))
    }

    @Test(arguments: [
        // extra may not override what heidi controls, in any spelling
        (
            "stages: {train: {command: [t], executor: slurm, slurm: {extra: [\"--job-name=x\"]}}}",
            "stages.train.slurm.extra", "--job-name is set by heidi"
        ),
        (
            "stages: {train: {command: [t], executor: slurm, slurm: {extra: [\"-J\", \"x\"]}}}",
            "stages.train.slurm.extra", "-J (--job-name) is set by heidi"
        ),
        (
            "stages: {train: {command: [t], executor: slurm, slurm: {extra: [\"--output=/tmp/o\"]}}}",
            "stages.train.slurm.extra", "--output is set by heidi"
        ),
        (
            "stages: {train: {command: [t], executor: slurm, slurm: {extra: [\"-o/tmp/o\"]}}}",
            "stages.train.slurm.extra", "-o (--output) is set by heidi"
        ),
        (
            "stages: {train: {command: [t], executor: slurm, slurm: {extra: [\"--parsable\"]}}}",
            "stages.train.slurm.extra", "--parsable is set by heidi"
        ),
        (
            "stages: {train: {command: [t], executor: slurm, slurm: {extra: [\"--wrap=sleep 1\"]}}}",
            "stages.train.slurm.extra", "--wrap is set by heidi"
        ),
        (
            "stages: {train: {command: [t], executor: slurm, slurm: {extra: [\"--wait\"]}}}",
            "stages.train.slurm.extra", "--wait is set by heidi"
        ),
        (
            "stages: {train: {command: [t], executor: slurm, slurm: {extra: [\"exclusive\"]}}}",
            "stages.train.slurm.extra", "is not an sbatch option"
        ),
        // values and combinations
        (
            "stages: {train: {command: [t], executor: pbs}}", "stages.train.executor",
            "unknown executor \"pbs\" (known: local, slurm)"
        ),
        (
            "stages: {train: {command: [t], slurm: {partition: gpu}}}", "stages.train.slurm",
            "only an executor: slurm stage takes slurm settings"
        ),
        (
            "stages: {train: {command: [t], queue_timeout: 10m}}", "stages.train.queue_timeout",
            "only an executor: slurm stage waits in a queue"
        ),
        (
            "stages: {train: {command: [t], executor: slurm, slurm: {gpus: 1, gres: \"gpu:1\"}}}", "stages.train.slurm",
            "set gpus or gres, not both"
        ),
        ("stages: {train: {command: [t], executor: slurm, slurm: {nodes: 0}}}", "stages.train.slurm.nodes", ">= 1"),
        (
            "stages: {train: {command: [t], executor: slurm, slurm: {mem: lots}}}", "stages.train.slurm.mem",
            "invalid memory \"lots\""
        ),
        (
            "stages: {train: {command: [t], executor: slurm, slurm: {partition: \"gpu;rm\"}}}",
            "stages.train.slurm.partition", "invalid value"
        ),
        (
            "stages: {train: {command: [t], executor: slurm, slurm: {cpus: 4}}}", "stages.train.slurm.cpus",
            "unknown key (known: partition,"
        ),
        (
            "stages: {train: {command: [t], executor: slurm, timeout: 2h, slurm: {time_limit: 1h}}}",
            "stages.train.slurm.time_limit", "is not above timeout + stop_grace"
        ),
        (
            "stages: {train: {command: [t], executor: slurm, queue_timeout: 0}}", "stages.train.queue_timeout",
            "longer than 0"
        ),
    ])
    func mistakesAreRefusedAtLoadNamingTheKey(_ yaml: String, _ key: String, _ text: String) throws {
        let error = try #require(self.error(yaml), "\(yaml) must be refused")
        #expect(error.key == key, "\(error)")
        #expect(error.message.contains(text), "\(error)")
        #expect(error.line != nil, "\(error)")
    }

    @Test func refusalCoversLongShortAndJoinedForms() {
        #expect(SlurmJobSettings.refusal(of: "--job-name") != nil)
        #expect(SlurmJobSettings.refusal(of: "--job-name=x") != nil)
        #expect(SlurmJobSettings.refusal(of: "-Jx") != nil)
        #expect(SlurmJobSettings.refusal(of: "--error=e") != nil)
        #expect(SlurmJobSettings.refusal(of: "--job-names-are-fine") == nil)
        #expect(SlurmJobSettings.refusal(of: "--exclusive") == nil)
        #expect(SlurmJobSettings.refusal(of: "--account=x") == nil)
        #expect(SlurmJobSettings.refusal(of: "--constraint=a100") == nil)
    }
}
