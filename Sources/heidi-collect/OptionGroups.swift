import ArgumentParser
import HeidiCollect
import HeidiCore

struct SourceOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Template directory (every *.yaml, one language each) or one template file.",
            valueName: "dir|file"
        )
    )
    var templates: String?

    @Option(
        help: ArgumentHelp(
            "JSONL prompt file: {\"instruction\",\"input\",\"language\",\"task_type\"} per line.",
            valueName: "file"
        )
    )
    var prompts: String?

    @Option(
        name: .customLong("language"),
        help: ArgumentHelp(
            "Only these template languages (repeatable); default language of prompt lines without one (default python).",
            valueName: "name"
        )
    )
    var languages: [String] = []

    @Option(
        help:
            "Samples to generate from templates (default \(JobBuilder.Defaults.templateSamples)); with --prompts, use at most this many prompts."
    )
    var samples: Int?

    @Option(name: [.short, .long], help: ArgumentHelp("The JSONL file to write (atomically).", valueName: "file"))
    var output: String?

    @Option(
        help:
            "Seed for template choice, mock answers, injected failures and jitter (default \(JobBuilder.Defaults.seed))."
    )
    var seed: UInt64?

    @Option(help: "Round number for record ids round_<R>_<index> (default $HEIDI_ROUND, else 1).")
    var round: Int?

    func apply(to values: inout CollectOptionValues) throws {
        values.templates = templates
        values.prompts = prompts
        values.languages = languages.isEmpty ? nil : languages
        values.samples = samples
        values.output = output
        values.seed = seed
        values.round = round
    }
}

struct ProviderOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "mock, or openai (any OpenAI-compatible chat-completions endpoint: OpenAI, vLLM, llama.cpp, Ollama).",
            valueName: "mock|openai"
        )
    )
    var provider: String?

    @Option(
        help: "Model name (default \(JobBuilder.Defaults.openAIModel); \(JobBuilder.Defaults.mockModel) for the mock)."
    )
    var model: String?

    @Option(
        name: .customLong("base-url"),
        help: ArgumentHelp(
            "API base URL; requests go to <url>/chat/completions (default \(JobBuilder.Defaults.baseURL)).",
            valueName: "url"
        )
    )
    var baseURL: String?

    @Option(
        name: .customLong("api-key-env"),
        help: ArgumentHelp(
            "Environment variable holding the API key (default \(JobBuilder.Defaults.apiKeyEnv), optional).",
            valueName: "var"
        )
    )
    var apiKeyEnv: String?

    @Option(
        name: .customLong("api-key-file"),
        help: ArgumentHelp("File whose first line is the API key; must not be readable by others.", valueName: "path")
    )
    var apiKeyFile: String?

    @Option(
        name: .customLong("price-input"),
        help: ArgumentHelp("USD per 1M input tokens (default: the built-in table for known models).", valueName: "usd")
    )
    var priceInput: Double?

    @Option(name: .customLong("price-output"), help: ArgumentHelp("USD per 1M output tokens.", valueName: "usd"))
    var priceOutput: Double?

    func apply(to values: inout CollectOptionValues) throws {
        values.provider = provider
        values.model = model
        values.baseURL = baseURL
        values.apiKeyEnv = apiKeyEnv
        values.apiKeyFile = apiKeyFile
        values.priceInput = priceInput
        values.priceOutput = priceOutput
    }
}

struct RequestOptions: ParsableArguments {
    @Option(help: "Requests in flight at most (default \(JobBuilder.Defaults.concurrency)).")
    var concurrency: Int?

    @Option(help: ArgumentHelp("Time limit per attempt, e.g. 30s, 2m (default 60s).", valueName: "duration"))
    var timeout: String?

    @Option(
        help:
            "Retries per prompt after a 429, 5xx, timeout or connection error (default \(JobBuilder.Defaults.retries))."
    )
    var retries: Int?

    @Option(
        help: ArgumentHelp(
            "Delay before the first retry, doubled each time, upper half random (default 500ms).",
            valueName: "duration"
        )
    )
    var backoff: String?

    @Option(
        name: .customLong("backoff-max"),
        help: ArgumentHelp(
            "Longest backoff delay (default 30s); a longer Retry-After is honoured up to 120s.",
            valueName: "duration"
        )
    )
    var backoffMax: String?

    @Option(
        name: .customLong("rate-limit"),
        help: ArgumentHelp("Requests per second for the whole run (default unlimited).", valueName: "r")
    )
    var rateLimit: Double?

    @Option(
        name: .customLong("max-output-tokens"),
        help: "max_tokens of each request (default \(JobBuilder.Defaults.maxOutputTokens))."
    )
    var maxOutputTokens: Int?

    @Option(help: "Sampling temperature (default \(JobBuilder.Defaults.temperature)).")
    var temperature: Double?

    func apply(to values: inout CollectOptionValues) throws {
        values.concurrency = concurrency
        values.timeout = try timeout.map { try duration($0, "--timeout") }
        values.retries = retries
        values.backoff = try backoff.map { try duration($0, "--backoff") }
        values.backoffMax = try backoffMax.map { try duration($0, "--backoff-max") }
        values.rateLimit = rateLimit
        values.maxOutputTokens = maxOutputTokens
        values.temperature = temperature
    }
}

struct BudgetOptions: ParsableArguments {
    @Option(name: .customLong("max-requests"), help: "Stop after this many HTTP requests (retries included).")
    var maxRequests: Int?

    @Option(name: .customLong("max-tokens"), help: "Stop before input + output tokens could pass this.")
    var maxTokens: Int?

    @Option(
        name: .customLong("max-cost"),
        help: ArgumentHelp("Stop before the estimated cost could pass this many USD.", valueName: "usd")
    )
    var maxCost: Double?

    @Flag(
        name: .customLong("budget-exhausted-ok"),
        help: "Exit 0 instead of 3 when a budget stops the run (the budget is the intended per-round limit)."
    )
    var budgetExhaustedOK = false

    func apply(to values: inout CollectOptionValues) throws {
        values.maxRequests = maxRequests
        values.maxTokens = maxTokens
        values.maxCost = maxCost
        values.budgetExhaustedOK = budgetExhaustedOK ? true : nil
    }
}

struct MockOptions: ParsableArguments {
    @Option(
        name: .customLong("mock-latency"),
        help: ArgumentHelp("Latency of each mock answer (default 100ms).", valueName: "duration")
    )
    var mockLatency: String?

    @Option(
        name: .customLong("mock-jitter"),
        help: ArgumentHelp("Extra random latency as a fraction of --mock-latency (default 0).", valueName: "fraction")
    )
    var mockJitter: Double?

    @Option(
        name: .customLong("mock-failure-rate"),
        help: ArgumentHelp("Share of attempts failing with an injected 429 or 500 (default 0).", valueName: "0..1")
    )
    var mockFailureRate: Double?

    @Option(
        name: .customLong("mock-invalid-rate"),
        help: ArgumentHelp("Share of answers with deliberately invalid code (default 0.1).", valueName: "0..1")
    )
    var mockInvalidRate: Double?

    func apply(to values: inout CollectOptionValues) throws {
        values.mockLatency = try mockLatency.map { try duration($0, "--mock-latency") }
        values.mockJitter = mockJitter
        values.mockFailureRate = mockFailureRate
        values.mockInvalidRate = mockInvalidRate
    }
}

struct ReportingOptions: ParsableArguments {
    @Flag(
        inversion: .prefixedNo,
        help: "Check generated code with the language toolchains and drop answers that fail (default on)."
    )
    var validate: Bool?

    @Flag(
        name: .customLong("allow-missing-toolchains"),
        help:
            "Accept code whose toolchain (g++, node, gofmt, python3) is not installed, with a note (default: reject it)."
    )
    var allowMissingToolchains = false

    @Flag(
        name: .customLong("keep-rejected"),
        help: "Also write answers that failed validation (validation.passed false)."
    )
    var keepRejected = false

    @Option(
        name: .customLong("progress-interval"),
        help: ArgumentHelp("Time between progress lines on stderr (default 5s).", valueName: "duration")
    )
    var progressInterval: String?

    @Flag(name: [.short, .long], help: "No progress lines (errors and the summary still go to stderr).")
    var quiet = false

    func apply(to values: inout CollectOptionValues) throws {
        values.validate = validate
        values.allowMissingToolchains = allowMissingToolchains ? true : nil
        values.keepRejected = keepRejected ? true : nil
        values.progressInterval = try progressInterval.map { try duration($0, "--progress-interval") }
        values.quiet = quiet ? true : nil
    }
}

/// Seconds in a duration flag (`90`, `500ms`, `30s`, `2m`), or a usage error naming the flag.
func duration(_ text: String, _ flag: String) throws -> Double {
    guard let seconds = Units.parseDuration(text) else {
        throw CollectConfigError(flag: flag, message: "invalid duration \(text) (e.g. 90, 500ms, 30s, 2m)")
    }
    return seconds
}
