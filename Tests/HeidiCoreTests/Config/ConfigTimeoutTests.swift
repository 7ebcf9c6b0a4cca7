import HeidiCore
import HeidiTestSupport
import Testing

/// `timeout: 0` used to be accepted and killed every stage at its start; it is refused, naming the key and file.
@Suite("Configuration: stage timeouts")
struct ConfigTimeoutTests {
    func load(_ yaml: String) throws -> HeidiConfig {
        let directory = makeTemporaryDirectory()
        let path = directory + "/heidi.yaml"
        try writeFile(path, yaml)
        return try ConfigLoader.load(path: path, environment: ["HOME": directory], overrides: ConfigOverrides())
    }

    @Test(arguments: [
        ("stages: {train: {command: [x], timeout: 0}}\n", "stages.train.timeout", 1),
        ("stage_defaults:\n  timeout: 0s\n", "stage_defaults.timeout", 2),
        ("stages:\n  eval:\n    command: [x]\n    timeout: \"0m\"\n", "stages.eval.timeout", 4),
    ])
    func aZeroTimeoutIsRefusedNamingTheKeyAndFile(_ yaml: String, _ key: String, _ line: Int) throws {
        do {
            _ = try load(yaml)
            Issue.record("a zero timeout was accepted: \(yaml)")
        } catch let failure as ConfigError {
            #expect(failure.key == key, "\(failure)")
            #expect(failure.line == line, "\(failure)")
            #expect(
                failure.description.contains("heidi.yaml") && failure.description.contains("longer than 0"),
                "\(failure)"
            )
        }
    }

    @Test func aShortTimeoutAndAZeroStopGraceStayValid() throws {
        let config = try load("stages: {train: {command: [x], timeout: 0.5s, stop_grace: 0}}\n")
        #expect(config.stages[.train]?.timeout == 0.5 && config.stages[.train]?.stopGrace == 0)
    }
}
