/// Every setting of a run as given on the command line or in a `--config` file; nil means "not given".
/// Flags override the file (`overriding`), built-in defaults fill the rest (`JobBuilder`).
public struct CollectOptionValues: Sendable, Equatable {
    public var provider: String?
    public var model: String?
    public var templates: String?
    public var prompts: String?
    public var languages: [String]?
    public var samples: Int?
    public var output: String?
    public var seed: UInt64?
    public var round: Int?
    public var concurrency: Int?
    public var timeout: Double?
    public var retries: Int?
    public var backoff: Double?
    public var backoffMax: Double?
    public var rateLimit: Double?
    public var maxRequests: Int?
    public var maxTokens: Int?
    public var maxCost: Double?
    public var priceInput: Double?
    public var priceOutput: Double?
    public var maxOutputTokens: Int?
    public var temperature: Double?
    public var baseURL: String?
    public var apiKeyEnv: String?
    public var apiKeyFile: String?
    public var mockLatency: Double?
    public var mockJitter: Double?
    public var mockFailureRate: Double?
    public var mockInvalidRate: Double?
    public var validate: Bool?
    /// Accept (with a note) code whose toolchain is missing instead of rejecting it.
    public var allowMissingToolchains: Bool?
    public var keepRejected: Bool?
    public var budgetExhaustedOK: Bool?
    public var progressInterval: Double?
    public var quiet: Bool?

    public init() {}

    /// `self` where set, else `base`.
    public func overriding(_ base: CollectOptionValues) -> CollectOptionValues {
        var merged = self
        func take<T>(_ key: WritableKeyPath<CollectOptionValues, T?>) {
            if merged[keyPath: key] == nil { merged[keyPath: key] = base[keyPath: key] }
        }
        take(\.provider)
        take(\.model)
        take(\.templates)
        take(\.prompts)
        take(\.languages)
        take(\.samples)
        take(\.output)
        take(\.seed)
        take(\.round)
        take(\.concurrency)
        take(\.timeout)
        take(\.retries)
        take(\.backoff)
        take(\.backoffMax)
        take(\.rateLimit)
        take(\.maxRequests)
        take(\.maxTokens)
        take(\.maxCost)
        take(\.priceInput)
        take(\.priceOutput)
        take(\.maxOutputTokens)
        take(\.temperature)
        take(\.baseURL)
        take(\.apiKeyEnv)
        take(\.apiKeyFile)
        take(\.mockLatency)
        take(\.mockJitter)
        take(\.mockFailureRate)
        take(\.mockInvalidRate)
        take(\.validate)
        take(\.allowMissingToolchains)
        take(\.keepRejected)
        take(\.budgetExhaustedOK)
        take(\.progressInterval)
        take(\.quiet)
        return merged
    }
}

/// A setting that cannot be used, naming the flag (and the config key, which is the flag without `--`, with `_`).
public struct CollectConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var flag: String
    public var message: String

    public init(flag: String, message: String) {
        self.flag = flag
        self.message = message
    }

    public var description: String { flag.isEmpty ? message : "\(flag): \(message)" }
}
