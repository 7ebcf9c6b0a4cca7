import HeidiCore

/// Turns option values (flags over config file) into a `CollectJob`: defaults, range checks, prompts and templates
/// loaded, API key read, provider created. Every error names the flag involved.
public enum JobBuilder {
    /// Built-in defaults (also shown in `--help`).
    public enum Defaults {
        public static let templateSamples = 50
        public static let seed: UInt64 = 42
        public static let concurrency = 16
        public static let timeout = 60.0
        public static let retries = 3
        public static let backoff = 0.5
        public static let backoffMax = 30.0
        public static let maxOutputTokens = 1024
        public static let temperature = 0.7
        public static let baseURL = "https://api.openai.com/v1"
        public static let apiKeyEnv = "OPENAI_API_KEY"
        public static let openAIModel = "gpt-4o-mini"
        public static let mockModel = "mock-teacher"
        public static let mockLatency = 0.1
        public static let mockInvalidRate = 0.1
        public static let progressInterval = 5.0
        public static let language = "python"
    }

    /// The job plus notes worth telling the operator (printed unless quiet).
    public struct Resolved: Sendable {
        public var job: CollectJob
        public var notes: [String]
        public var quiet: Bool
    }

    public static func build(
        _ values: CollectOptionValues,
        environment: [String: String]
    ) throws(CollectConfigError) -> Resolved {
        var notes: [String] = []
        let provider = try providerName(values.provider)
        let model = values.model ?? (provider == "mock" ? Defaults.mockModel : Defaults.openAIModel)
        guard !model.isEmpty else { throw CollectConfigError(flag: "--model", message: "must not be empty") }
        let seed = values.seed ?? Defaults.seed
        let round: Int
        if let given = values.round { round = given } else { round = try roundFromEnvironment(environment) }

        guard let outputPath = values.output, !outputPath.isEmpty else {
            throw CollectConfigError(flag: "--output", message: "required: the JSONL file to write")
        }
        let output = AtomicOutputFile(path: FileSystem.resolve(outputPath, against: FileSystem.currentDirectory()))
        do throws(OutputError) { try output.prepare() } catch {
            throw CollectConfigError(flag: "", message: error.description)
        }

        let tasks = try loadTasks(values, seed: seed, round: round)

        let concurrency = values.concurrency ?? Defaults.concurrency
        try check(concurrency >= 1 && concurrency <= 100_000, "--concurrency", "must be between 1 and 100000")
        let timeout = values.timeout ?? Defaults.timeout
        try check(timeout > 0, "--timeout", "must be more than 0")
        let retries = values.retries ?? Defaults.retries
        try check(retries >= 0 && retries <= 100, "--retries", "must be between 0 and 100")
        let backoff = values.backoff ?? Defaults.backoff
        let backoffMax = values.backoffMax ?? max(Defaults.backoffMax, backoff)
        try check(backoffMax >= backoff, "--backoff-max", "must not be less than --backoff")
        if let rate = values.rateLimit {
            try check(rate > 0, "--rate-limit", "must be more than 0 requests per second")
        }
        let maxOutputTokens = values.maxOutputTokens ?? Defaults.maxOutputTokens
        try check(maxOutputTokens >= 1, "--max-output-tokens", "must be at least 1")
        let temperature = values.temperature ?? Defaults.temperature
        try check((0...2).contains(temperature), "--temperature", "must be between 0 and 2")

        let price = try price(values, model: model)
        if let maxCost = values.maxCost {
            try check(maxCost > 0, "--max-cost", "must be more than 0 USD")
            if price == .free {
                throw CollectConfigError(
                    flag: "--max-cost",
                    message:
                        "model \(model) has no known price, so its cost cannot be estimated; give --price-input and --price-output "
                        + "(USD per 1M tokens), or a --model of the price table (\(Pricing.defaults.keys.sorted().joined(separator: ", ")))"
                )
            }
        }
        if let maxRequests = values.maxRequests { try check(maxRequests >= 1, "--max-requests", "must be at least 1") }
        if let maxTokens = values.maxTokens { try check(maxTokens >= 1, "--max-tokens", "must be at least 1") }

        let settings = CollectSettings(
            model: model,
            seed: seed,
            concurrency: concurrency,
            timeout: timeout,
            retry: RetryPolicy(retries: retries, baseDelay: backoff, maxDelay: backoffMax),
            rateLimit: values.rateLimit,
            budget: Budget(maxRequests: values.maxRequests, maxTokens: values.maxTokens, maxCostUSD: values.maxCost),
            price: price,
            maxOutputTokens: maxOutputTokens,
            temperature: temperature
        )

        let validate = values.validate ?? true
        if validate && !Validators.toolchainValidationAvailable {
            notes.append("validation: no toolchain validator in this build; answers are accepted as they are")
        }
        let progressInterval = values.progressInterval ?? Defaults.progressInterval
        try check(progressInterval > 0, "--progress-interval", "must be more than 0")
        let quiet = values.quiet ?? false

        let teacher: any TeacherProvider
        switch provider {
        case "mock":
            let behaviour = MockProvider.Behaviour(
                latency: values.mockLatency ?? Defaults.mockLatency,
                latencyJitter: values.mockJitter ?? 0,
                failureRate: values.mockFailureRate ?? 0,
                invalidRate: values.mockInvalidRate ?? Defaults.mockInvalidRate
            )
            try check((0...1).contains(behaviour.failureRate), "--mock-failure-rate", "must be between 0 and 1")
            try check((0...1).contains(behaviour.invalidRate), "--mock-invalid-rate", "must be between 0 and 1")
            try check(behaviour.latencyJitter >= 0, "--mock-jitter", "must not be negative")
            teacher = MockProvider(behaviour: behaviour, seed: seed)
        default:
            let baseURL = values.baseURL ?? Defaults.baseURL
            try checkBaseURL(baseURL)
            let key = try apiKey(values, environment: environment, notes: &notes)
            teacher = OpenAIProvider(endpoint: .init(baseURL: baseURL, apiKey: key, maxConnections: concurrency))
        }

        let job = CollectJob(
            tasks: tasks,
            settings: settings,
            provider: teacher,
            validator: Validators.make(enabled: validate, failClosed: !(values.allowMissingToolchains ?? false)),
            output: output,
            round: round,
            keepRejected: values.keepRejected ?? false,
            budgetExhaustedOK: values.budgetExhaustedOK ?? false,
            progress: ProgressOptions(
                quiet: quiet,
                interval: progressInterval,
                notifyAddress: environment["HEIDI_NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
            )
        )
        return Resolved(job: job, notes: notes, quiet: quiet)
    }

    static func providerName(_ value: String?) throws(CollectConfigError) -> String {
        guard let value else {
            throw CollectConfigError(
                flag: "--provider",
                message: "required: mock or openai (any OpenAI-compatible endpoint)"
            )
        }
        switch value.lowercased() {
        case "mock": return "mock"
        case "openai", "openai-compatible", "vllm", "ollama", "llama.cpp": return "openai"
        default:
            throw CollectConfigError(flag: "--provider", message: "unknown provider \(value) (known: mock, openai)")
        }
    }

    static func roundFromEnvironment(_ environment: [String: String]) throws(CollectConfigError) -> Int {
        guard let text = environment["HEIDI_ROUND"], !text.isEmpty else { return 1 }
        guard let round = Int(text), round >= 0 else {
            throw CollectConfigError(
                flag: "--round",
                message: "HEIDI_ROUND=\(text) is not a round number; pass --round"
            )
        }
        return round
    }

    static func loadTasks(
        _ values: CollectOptionValues,
        seed: UInt64,
        round: Int
    ) throws(CollectConfigError) -> [PromptTask] {
        let languages = (values.languages ?? []).map(Languages.normalize)
        if let samples = values.samples { try check(samples >= 1, "--samples", "must be at least 1") }
        switch (values.templates, values.prompts) {
        case (nil, nil):
            throw CollectConfigError(flag: "--templates", message: "give --templates DIR|FILE or --prompts FILE")
        case (.some, .some):
            throw CollectConfigError(flag: "--prompts", message: "give either --templates or --prompts, not both")
        case (let templates?, nil):
            do throws(PromptSourceError) {
                let sets = try TemplateLoader.load(
                    FileSystem.resolve(templates, against: FileSystem.currentDirectory()),
                    languages: languages
                )
                return TemplateLoader.tasks(
                    from: sets,
                    samples: values.samples ?? Defaults.templateSamples,
                    seed: seed,
                    round: round
                )
            } catch {
                throw CollectConfigError(flag: "--templates", message: error.description)
            }
        case (nil, let prompts?):
            do throws(PromptSourceError) {
                return try PromptFileLoader.load(
                    FileSystem.resolve(prompts, against: FileSystem.currentDirectory()),
                    defaultLanguage: languages.first ?? Defaults.language,
                    round: round,
                    limit: values.samples
                )
            } catch {
                throw CollectConfigError(flag: "--prompts", message: error.description)
            }
        }
    }

    static func price(_ values: CollectOptionValues, model: String) throws(CollectConfigError) -> Price {
        switch (values.priceInput, values.priceOutput) {
        case let (input?, output?):
            try check(input >= 0 && output >= 0, "--price-input", "prices must not be negative")
            return Price(inputPerMillion: input, outputPerMillion: output)
        case (.some, nil):
            throw CollectConfigError(flag: "--price-output", message: "needed together with --price-input")
        case (nil, .some):
            throw CollectConfigError(flag: "--price-input", message: "needed together with --price-output")
        // The mock provider is priced like the model it stands in for, so a budget can be rehearsed without a network.
        case (nil, nil): return Pricing.price(for: model) ?? .free
        }
    }

    static func checkBaseURL(_ url: String) throws(CollectConfigError) {
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), url.count > 8,
            !url.contains(where: { $0.isWhitespace })
        else {
            throw CollectConfigError(
                flag: "--base-url",
                message: "expected an http:// or https:// URL such as https://api.openai.com/v1, got \(url)"
            )
        }
    }

    static func apiKey(
        _ values: CollectOptionValues,
        environment: [String: String],
        notes: inout [String]
    )
        throws(CollectConfigError) -> APIKey?
    {
        if values.apiKeyFile != nil, values.apiKeyEnv != nil {
            throw CollectConfigError(
                flag: "--api-key-file",
                message: "give either --api-key-file or --api-key-env, not both"
            )
        }
        let key: APIKey?
        do throws(APIKeyError) {
            if let file = values.apiKeyFile {
                key = try APIKeyLoader.fromFile(FileSystem.resolve(file, against: FileSystem.currentDirectory()))
            } else if let name = values.apiKeyEnv {
                key = try APIKeyLoader.fromEnvironment(name, environment: environment)
            } else if environment[Defaults.apiKeyEnv].map({ !$0.isEmpty }) == true {
                key = try APIKeyLoader.fromEnvironment(Defaults.apiKeyEnv, environment: environment)
            } else {
                key = nil
            }
        } catch {
            throw CollectConfigError(flag: "", message: error.description)
        }
        if key == nil {
            notes.append(
                "no API key (\(Defaults.apiKeyEnv) is not set and neither --api-key-env nor --api-key-file was given): requests carry no Authorization header"
            )
        }
        return key
    }

    static func check(_ condition: Bool, _ flag: String, _ message: String) throws(CollectConfigError) {
        guard condition else { throw CollectConfigError(flag: flag, message: message) }
    }
}
