import HeidiYAML

/// Reads a stage's `slurm:` mapping onto `SlurmJobSettings`, refusing unknown keys, malformed values and `extra`
/// options that would override what heidi controls (job name, output, `--parsable`, `--wrap`, …), with the file,
/// line and dotted key in the error.
struct SlurmSettingsReader {
    private let fields: YAMLFields<ConfigError>

    init(path: String) {
        fields = YAMLFields { line, key, message in ConfigError(source: path, line: line, key: key, message: message) }
    }

    func read(_ node: YAMLNode, _ prefix: String) throws(ConfigError) -> SlurmJobSettings {
        var settings = SlurmJobSettings()
        for (key, value, name) in try fields.mapping(node, prefix) {
            switch name {
            case "partition": settings.partition = try word(value, key)
            case "account": settings.account = try word(value, key)
            case "qos": settings.qos = try word(value, key)
            case "gpus": settings.gpus = try word(value, key, extra: ":")
            case "gres": settings.gres = try word(value, key, extra: ":,")
            case "nodes": settings.nodes = try fields.integer(value, key, minimum: 1)
            case "ntasks_per_node": settings.ntasksPerNode = try fields.integer(value, key, minimum: 1)
            case "cpus_per_task": settings.cpusPerTask = try fields.integer(value, key, minimum: 1)
            case "mem":
                let text = try fields.string(value, key)
                guard Self.isSlurmSize(text) else {
                    throw fields.fail(
                        value,
                        key,
                        "invalid memory \"\(text)\" (Slurm's form: a number with an optional K, M, G or T, e.g. 16G)"
                    )
                }
                settings.mem = text
            case "time_limit":
                let text = try fields.string(value, key)
                guard let seconds = Units.parseDuration(text), seconds >= 60 else {
                    throw fields.fail(
                        value,
                        key,
                        "invalid time limit \"\(text)\" (a duration of at least a minute, e.g. \"13h\")"
                    )
                }
                settings.timeLimit = seconds
            case "requeue": settings.requeue = try fields.boolean(value, key)
            case "extra":
                settings.extra = try fields.strings(value, key)
                for option in settings.extra {
                    guard option.hasPrefix("-") else {
                        throw fields.fail(
                            value,
                            key,
                            "\"\(option)\" is not an sbatch option (write each as one item, e.g. [\"--constraint=a100\"])"
                        )
                    }
                    if let refusal = SlurmJobSettings.refusal(of: option) {
                        throw fields.fail(value, key, "\"\(option)\": \(refusal)")
                    }
                }
            default:
                throw fields.fail(value, key, "unknown key (known: \(ConfigKeys.slurm.joined(separator: ", ")))")
            }
        }
        if settings.gpus != nil && settings.gres != nil {
            throw fields.fail(node, prefix, "set gpus or gres, not both (both ask Slurm for GPUs)")
        }
        return settings
    }

    /// A name Slurm accepts as one option value: letters, digits, `_ . -` and the given separators.
    private func word(_ node: YAMLNode, _ key: String, extra: String = "") throws(ConfigError) -> String {
        let text = try fields.string(node, key)
        let allowed = "_.-" + extra
        guard !text.isEmpty, text.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || allowed.contains($0) })
        else {
            throw fields.fail(
                node,
                key,
                "invalid value \"\(text)\" (letters, digits and \(allowed.map { "'\($0)'" }.joined(separator: " ")) only)"
            )
        }
        return text
    }

    static func isSlurmSize(_ text: String) -> Bool {
        var digits = Substring(text)
        if let last = digits.last, "KMGTkmgt".contains(last) { digits = digits.dropLast() }
        return !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }
}
