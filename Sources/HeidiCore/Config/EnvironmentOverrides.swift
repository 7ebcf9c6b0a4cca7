import HeidiYAML

/// Environment overrides, including the original engine's variable names (SPEC §3).
enum EnvironmentOverrides {
    static func apply(_ env: [String: String], to config: inout HeidiConfig, socket: inout String?) throws(ConfigError)
    {
        func fail(_ name: String, _ message: String) -> ConfigError {
            ConfigError(source: "environment", key: name, message: message)
        }
        func value(_ name: String) -> String? { env[name].flatMap { $0.isEmpty ? nil : $0 } }

        if let text = value("ROUNDS") {
            guard let rounds = Int(text), rounds >= 1 else {
                throw fail("ROUNDS", "expected an integer >= 1, got \"\(text)\"")
            }
            config.rounds = rounds
        }
        if let text = value("RUN_UNIT_TESTS") {
            guard let flag = parseBoolean(text) else {
                throw fail("RUN_UNIT_TESTS", "expected 1 or 0, got \"\(text)\"")
            }
            config.runUnitTests = flag
        }
        if let text = value("PIPELINE_MODE") {
            guard let mode = PipelineMode(rawValue: text) else {
                throw fail("PIPELINE_MODE", "expected full or collect, got \"\(text)\"")
            }
            config.mode = mode
        }
        if let text = value("SAMPLES_PER_ROUND") {
            guard let samples = Int(text), samples >= 1 else {
                throw fail("SAMPLES_PER_ROUND", "expected an integer >= 1, got \"\(text)\"")
            }
            config.vars["samples"] = String(samples)
        }
        if let dir = value("HEIDI_STATE_DIR") ?? value("OUT_DIR") { config.stateDir = ConfigLoader.absolute(dir) }
        if let dir = value("HEIDI_REPO_ROOT") { config.repoRoot = ConfigLoader.absolute(dir) }
        if let id = value("RUN_ID") {
            guard RunID.isValid(id) else {
                throw fail("RUN_ID", "\"\(id)\" is not a usable run id (letters, digits, '_', '-', '.', at most 128)")
            }
            config.nextRunID = id
        }
        func percent(_ name: String) throws(ConfigError) -> Double? {
            guard let text = value(name) else { return nil }
            guard let percent = Double(text), percent > 0, percent <= 100 else {
                throw fail(name, "expected a percentage in (0, 100], got \"\(text)\"")
            }
            return percent
        }
        if let cpu = try percent("MAX_CPU_PCT") { config.maxCPUPercent = cpu }
        if let memory = try percent("MAX_MEM_PCT") { config.maxMemoryPercent = memory }
        if let text = value("MAX_WALL_TIME_MINUTES") {
            guard let minutes = Double(text), minutes >= 0 else {
                throw fail("MAX_WALL_TIME_MINUTES", "expected minutes, got \"\(text)\"")
            }
            config.maxWait = minutes * 60
        }
        if let text = value("HEIDI_MOCK_SUBPROCESSES") {
            guard let flag = parseBoolean(text) else {
                throw fail("HEIDI_MOCK_SUBPROCESSES", "expected 1 or 0, got \"\(text)\"")
            }
            config.mockSubprocesses = flag
        }
        if let path = value("HEIDI_SOCKET") { socket = ConfigLoader.absolute(path) }
        EngineEnvironment.applyOverrides(env, to: &config)
    }
}

/// Run ids: `run_YYYYMMDD_HHMMSS` (UTC), made unique with a suffix when a run started in the same second.
public enum RunID {
    public static func make(at time: Timestamp, existing: (String) -> Bool) -> String {
        let base = "run_" + time.compactUTC
        if !existing(base) { return base }
        var n = 2
        while existing("\(base)_\(n)") { n += 1 }
        return "\(base)_\(n)"
    }

    /// Safe as a directory name and in journal lines.
    public static func isValid(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128 && id != "." && id != ".."
            && id.unicodeScalars.allSatisfy {
                ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
                    || "_-.".unicodeScalars.contains($0)
            }
    }
}
