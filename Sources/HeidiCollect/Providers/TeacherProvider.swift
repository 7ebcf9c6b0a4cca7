/// What heidi-collect sends to a teacher for one attempt.
public struct TeacherRequest: Sendable {
    public var task: PromptTask
    /// 1 for the first try, 2 for the first retry, ...
    public var attempt: Int
    public var model: String
    public var maxOutputTokens: Int
    public var temperature: Double
    /// Per-item seed passed to providers that support one (OpenAI's `seed`), derived from the run's seed.
    public var seed: UInt64
    /// Seconds this attempt may take (the collector enforces it; providers may use it as their own deadline).
    public var timeout: Double

    public init(
        task: PromptTask,
        attempt: Int,
        model: String,
        maxOutputTokens: Int,
        temperature: Double,
        seed: UInt64,
        timeout: Double
    ) {
        self.task = task
        self.attempt = attempt
        self.model = model
        self.maxOutputTokens = maxOutputTokens
        self.temperature = temperature
        self.seed = seed
        self.timeout = timeout
    }
}

/// A teacher's answer and what it cost.
public struct TeacherResponse: Sendable, Equatable {
    public var content: String
    public var usage: TokenUsage
    /// The model the provider says answered (may differ from the one asked for); nil when it does not say.
    public var model: String?

    public init(content: String, usage: TokenUsage, model: String? = nil) {
        self.content = content
        self.usage = usage
        self.model = model
    }
}

/// Tokens one request used.
public struct TokenUsage: Sendable, Equatable {
    public var inputTokens: Int
    public var outputTokens: Int
    /// The provider did not report usage and these are estimates (characters / 4).
    public var estimated: Bool

    public init(inputTokens: Int, outputTokens: Int, estimated: Bool = false) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.estimated = estimated
    }

    public static let zero = TokenUsage(inputTokens: 0, outputTokens: 0)
    public var total: Int { inputTokens + outputTokens }

    /// A rough count for text without a tokenizer: about four characters per token.
    public static func estimate(_ text: String) -> Int { (text.utf8.count + 3) / 4 }
}

/// A source of teacher answers: the mock, or an OpenAI-compatible HTTP endpoint.
///
/// `complete` is called concurrently; it never retries (the collector does) and reports every failure as a
/// `ProviderError`. It must end within `request.timeout` (else with `.timeout`; `Deadline.run` does that for any
/// async work), and cancellation of the calling task must end it promptly with `.cancelled`.
public protocol TeacherProvider: Sendable {
    /// `mock` or `openai` (written into records as `metadata.provider`).
    var name: String { get }
    /// One attempt.
    func complete(_ request: TeacherRequest) async throws(ProviderError) -> TeacherResponse
    /// Releases connections; called once after the last request.
    func shutdown() async
}
