import HeidiCore
import HeidiYAML

/// Reads a `--config` YAML file: the flags' long names with `_` instead of `-` as keys, e.g.
///
/// ```yaml
/// provider: openai
/// model: gpt-4o-mini
/// base_url: https://api.openai.com/v1
/// api_key_file: /etc/heidi/openai.key
/// templates: templates/          # relative paths are relative to this file
/// samples: 200
/// concurrency: 32
/// timeout: 60s
/// max_cost: 2.50
/// ```
/// Unknown keys and bad values are errors naming the file, line and key.
public enum CollectConfigFile {
    public static func load(_ path: String) throws(YAMLFieldError) -> CollectOptionValues {
        let bytes: [UInt8]
        do throws(FileSystemError) { bytes = try FileSystem.read(path) } catch {
            throw YAMLFieldError(
                path: path,
                line: nil,
                key: "",
                message: "cannot read: \(errnoDescription(error.errno))"
            )
        }
        return try parse(String(decoding: bytes, as: UTF8.self), path: path)
    }

    static let keys = [
        "provider", "model", "templates", "prompts", "languages", "samples", "output", "seed", "round", "concurrency",
        "timeout", "retries", "backoff", "backoff_max", "rate_limit", "max_requests", "max_tokens", "max_cost",
        "price_input", "price_output", "max_output_tokens", "temperature", "base_url", "api_key_env", "api_key_file",
        "mock_latency", "mock_jitter", "mock_failure_rate", "mock_invalid_rate", "validate", "allow_missing_toolchains",
        "keep_rejected", "budget_exhausted_ok",
        "progress_interval", "quiet",
    ]

    static func parse(_ text: String, path: String) throws(YAMLFieldError) -> CollectOptionValues {
        let yaml = YAMLFields(path: path)
        var values = CollectOptionValues()
        guard let root = try yaml.document(text) else { return values }
        let base = FileSystem.resolve(FileSystem.dirname(path), against: FileSystem.currentDirectory())
        func file(_ node: YAMLNode, _ key: String) throws(YAMLFieldError) -> String {
            FileSystem.resolve(try yaml.string(node, key), against: base)
        }
        func duration(_ node: YAMLNode, _ key: String) throws(YAMLFieldError) -> Double {
            let text = try yaml.string(node, key)
            guard let seconds = Units.parseDuration(text) else {
                throw yaml.fail(node, key, "invalid duration \(text) (e.g. 90, \"500ms\", \"30s\", \"2m\")")
            }
            return seconds
        }
        for (key, value, name) in try yaml.mapping(root, "") {
            switch name {
            case "provider": values.provider = try yaml.string(value, key)
            case "model": values.model = try yaml.string(value, key)
            case "templates": values.templates = try file(value, key)
            case "prompts": values.prompts = try file(value, key)
            case "languages", "language": values.languages = try yaml.strings(value, key)
            case "samples": values.samples = try yaml.integer(value, key, minimum: 1)
            case "output": values.output = try file(value, key)
            case "seed": values.seed = UInt64(try yaml.integer(value, key, minimum: 0))
            case "round": values.round = try yaml.integer(value, key, minimum: 0)
            case "concurrency": values.concurrency = try yaml.integer(value, key, minimum: 1)
            case "timeout": values.timeout = try duration(value, key)
            case "retries": values.retries = try yaml.integer(value, key, minimum: 0)
            case "backoff": values.backoff = try duration(value, key)
            case "backoff_max": values.backoffMax = try duration(value, key)
            case "rate_limit": values.rateLimit = try yaml.number(value, key, range: 0...1e9)
            case "max_requests": values.maxRequests = try yaml.integer(value, key, minimum: 1)
            case "max_tokens": values.maxTokens = try yaml.integer(value, key, minimum: 1)
            case "max_cost": values.maxCost = try yaml.number(value, key, range: 0...1e9)
            case "price_input": values.priceInput = try yaml.number(value, key, range: 0...1e9)
            case "price_output": values.priceOutput = try yaml.number(value, key, range: 0...1e9)
            case "max_output_tokens": values.maxOutputTokens = try yaml.integer(value, key, minimum: 1)
            case "temperature": values.temperature = try yaml.number(value, key, range: 0...2)
            case "base_url": values.baseURL = try yaml.string(value, key)
            case "api_key_env": values.apiKeyEnv = try yaml.string(value, key)
            case "api_key_file": values.apiKeyFile = try file(value, key)
            case "mock_latency": values.mockLatency = try duration(value, key)
            case "mock_jitter": values.mockJitter = try yaml.number(value, key, range: 0...100)
            case "mock_failure_rate": values.mockFailureRate = try yaml.number(value, key, range: 0...1)
            case "mock_invalid_rate": values.mockInvalidRate = try yaml.number(value, key, range: 0...1)
            case "validate": values.validate = try yaml.boolean(value, key)
            case "allow_missing_toolchains": values.allowMissingToolchains = try yaml.boolean(value, key)
            case "keep_rejected": values.keepRejected = try yaml.boolean(value, key)
            case "budget_exhausted_ok": values.budgetExhaustedOK = try yaml.boolean(value, key)
            case "progress_interval": values.progressInterval = try duration(value, key)
            case "quiet": values.quiet = try yaml.boolean(value, key)
            default:
                if name == "api_key" {
                    throw yaml.fail(
                        value,
                        key,
                        "API keys do not belong in config files; use api_key_file or api_key_env"
                    )
                }
                throw yaml.fail(value, key, "unknown key (known: \(keys.joined(separator: ", ")))")
            }
        }
        return values
    }
}
