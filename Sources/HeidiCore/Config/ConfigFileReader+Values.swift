import HeidiYAML

/// The value readers of `ConfigFileReader`: each reads one YAML node as the kind of value a key takes, or fails with
/// the file, line and dotted key.
extension ConfigFileReader {
    func unknown(_ node: YAMLNode, _ key: String, _ known: [String]) -> ConfigError {
        fail(node, key, "unknown key (known: \(known.joined(separator: ", ")))")
    }

    func mapping(
        _ node: YAMLNode,
        _ prefix: String
    ) throws(ConfigError) -> [(key: String, value: YAMLNode, name: String)] {
        try fields.mapping(node, prefix)
    }

    func scalar(_ node: YAMLNode, _ key: String) throws(ConfigError) -> String { try fields.string(node, key) }

    func boolean(_ node: YAMLNode, _ key: String) throws(ConfigError) -> Bool { try fields.boolean(node, key) }

    func integer(_ node: YAMLNode, _ key: String, minimum: Int) throws(ConfigError) -> Int {
        try fields.integer(node, key, minimum: minimum)
    }

    func enumeration<T: RawRepresentable & CaseIterable>(
        _ node: YAMLNode,
        _ key: String,
        _ type: T.Type
    ) throws(ConfigError) -> T
    where T.RawValue == String {
        try fields.enumeration(node, key, type)
    }

    func percent(_ node: YAMLNode, _ key: String) throws(ConfigError) -> Double {
        try fields.value(node, key, expected: "a percentage in (0, 100]") {
            Double($0).flatMap { $0 > 0 && $0 <= 100 ? $0 : nil }
        }
    }

    func duration(_ node: YAMLNode, _ key: String) throws(ConfigError) -> Double {
        try withUnit(node, key, Units.parseDuration, "duration", "use seconds like 90, or \"90s\", \"15m\", \"2h\"")
    }

    /// A stage timeout: 0 is refused rather than read as "kill at once" (every stage would fail at its start) or as
    /// "never" (a hung stage would hold the pipeline forever, unsupervised); a long wait is written as one ("30d").
    func timeout(_ node: YAMLNode, _ key: String) throws(ConfigError) -> Double {
        let value = try duration(node, key)
        guard value > 0 else {
            throw fail(
                node,
                key,
                "a timeout must be longer than 0 (0 would kill every stage at once; for a long stage "
                    + "give a long duration such as \"12h\" or \"30d\")"
            )
        }
        return value
    }

    func size(_ node: YAMLNode, _ key: String) throws(ConfigError) -> Int64 {
        try withUnit(node, key, Units.parseSize, "size", "use bytes, or \"512KiB\", \"64MiB\", \"1GiB\"")
    }

    /// The scalar at `node` read by `parse`, or a failure that quotes it and says how to write a `kind` (`hint`).
    private func withUnit<Value>(
        _ node: YAMLNode,
        _ key: String,
        _ parse: (String) -> Value?,
        _ kind: String,
        _ hint: String
    ) throws(ConfigError) -> Value {
        let text = try scalar(node, key)
        guard let value = parse(text) else { throw fail(node, key, "invalid \(kind) \"\(text)\" (\(hint))") }
        return value
    }

    func pathValue(_ node: YAMLNode, _ key: String) throws(ConfigError) -> String {
        let text = try scalar(node, key)
        guard !text.isEmpty else { throw fail(node, key, "must not be empty") }
        // Paths with placeholders are expanded per stage and resolved there.
        return text.contains("{") ? text : FileSystem.resolve(text, against: baseDirectory)
    }

    mutating func stringMap(_ node: YAMLNode, _ key: String) throws(ConfigError) -> [String: String] {
        var result: [String: String] = [:]
        for (entryKey, value, name) in try mapping(node, key) {
            let text = try scalar(value, entryKey)
            result[name] = text
            placeholderSites.append((value, entryKey, text))
        }
        return result
    }

    mutating func command(_ node: YAMLNode, _ key: String) throws(ConfigError) -> [String] {
        switch node.content {
        case .scalar(let text):
            // A single string runs through the shell, like a line in a script.
            guard !text.isEmpty else { throw fail(node, key, "must not be empty") }
            placeholderSites.append((node, key, text))
            return ["/bin/sh", "-c", text]
        case .sequence(let items):
            var argv: [String] = []
            for item in items {
                let text = try scalar(item, key)
                placeholderSites.append((item, key, text))
                argv.append(text)
            }
            guard !argv.isEmpty else { throw fail(node, key, "must not be empty") }
            return argv
        case .mapping:
            throw fail(
                node,
                key,
                "expected a list of arguments, e.g. [python3, \"{repo_root}/train.py\"], got \(node.shapeDescription)"
            )
        }
    }
}
