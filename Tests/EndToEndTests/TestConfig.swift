import HeidiCore

/// Small heidid configurations whose stages are shell lines (`/bin/sh -c`), for tests that need real children but
/// not the demo's Python scripts.
enum TestConfig {
    /// Every stage succeeds at once.
    static let quick: [Stage: String] = Dictionary(uniqueKeysWithValues: Stage.allCases.map { ($0, "true") })

    /// A YAML config: `stages` override `quick`; `stageEnv` is added to every stage's environment. Runs are
    /// started with an explicit `--mode`/`--rounds` by the tests; every stage times out after 30 s.
    static func shell(
        mode: PipelineMode = .full,
        stages: [Stage: String] = [:],
        stopGrace: String = "2s",
        stageEnv: [String: String] = [:]
    ) -> String {
        var yaml = """
            pipeline:
              mode: \(mode.rawValue)
              rounds: 1
              run_unit_tests: false
            paths:
              repo_root: .
            stage_defaults:
              timeout: 30s
              stop_grace: \(stopGrace)
              env: {\(stageEnv.sorted { $0.key < $1.key }.map { "\($0.key): \(quoted($0.value))" }.joined(separator: ", "))}
            limits: {max_cpu_pct: 100, max_mem_pct: 100}
            logs: {journald: false}
            stages:

            """
        for stage in Stage.allCases {
            yaml += "  \(stage.rawValue):\n    command: \(quoted(stages[stage] ?? quick[stage]!))\n"
        }
        return yaml
    }

    /// A shell line that waits (at most 30 s) until the file `gate` exists: lets a test act while the stage runs.
    static func waitFor(gate: String) -> String {
        "i=0; while [ ! -e \(gate) ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done"
    }

    /// A YAML single-quoted scalar.
    static func quoted(_ text: String) -> String {
        "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''") + "'"
    }
}

extension Session {
    /// Creates the file a `TestConfig.waitFor(gate:)` stage waits for.
    func openGate(_ gate: String) throws { try FileSystem.writeAtomically(gate, [], mode: 0o644) }
}
