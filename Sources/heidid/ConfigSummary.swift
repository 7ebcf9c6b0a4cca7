import HeidiCore

/// The resolved configuration as `heidid --check-config` prints it.
enum ConfigSummary {
    static func describe(_ config: HeidiConfig, warnings: Int = 0) -> String {
        let note = warnings == 0 ? "" : " (\(warnings) warning\(warnings == 1 ? "" : "s") on stderr)"
        var lines = ["config OK\(note): \(config.source)"]
        func add(_ key: String, _ value: String) { lines.append("  \(key.padding(20))\(value)") }
        add("mode", config.mode.rawValue)
        add("rounds", String(config.rounds))
        add("run_unit_tests", String(config.runUnitTests))
        add("recovery", config.recovery.rawValue)
        add("state_dir", config.stateDir)
        add("socket", config.socketPath)
        add("repo_root", config.repoRoot)
        add("control.group", config.controlGroup ?? "(none)")
        add("journal.fsync", config.journalFsync.rawValue)
        if config.mockSubprocesses { add("mock", "HEIDI_MOCK_SUBPROCESSES=1: stages are not spawned") }
        for stage in config.activeStages {
            guard let settings = config.stages[stage] else { continue }
            add("stages.\(stage.rawValue)", settings.command.joined(separator: " "))
            add(
                "",
                "timeout \(Units.formatDuration(settings.timeout)), stop_grace \(Units.formatDuration(settings.stopGrace))"
                    + (settings.allowFailure ? ", allow_failure" : "")
            )
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
