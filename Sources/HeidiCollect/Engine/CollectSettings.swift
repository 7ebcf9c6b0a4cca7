/// How a run talks to its teacher: model, fan-out, timeouts, retries, rate, budgets.
public struct CollectSettings: Sendable, Equatable {
    public var model: String
    public var seed: UInt64
    /// Requests in flight at most (the task group's window).
    public var concurrency: Int
    /// Seconds one attempt may take.
    public var timeout: Double
    public var retry: RetryPolicy
    /// Requests per second for the whole run; nil: unlimited.
    public var rateLimit: Double?
    public var budget: Budget
    /// Used for the cost estimate and the cost budget.
    public var price: Price
    /// `max_tokens` of each request: the longest answer (and what a request reserves against the token budget).
    public var maxOutputTokens: Int
    public var temperature: Double

    public init(
        model: String,
        seed: UInt64,
        concurrency: Int = 16,
        timeout: Double = 60,
        retry: RetryPolicy = RetryPolicy(),
        rateLimit: Double? = nil,
        budget: Budget = Budget(),
        price: Price = .free,
        maxOutputTokens: Int = 1024,
        temperature: Double = 0.7
    ) {
        self.model = model
        self.seed = seed
        self.concurrency = concurrency
        self.timeout = timeout
        self.retry = retry
        self.rateLimit = rateLimit
        self.budget = budget
        self.price = price
        self.maxOutputTokens = maxOutputTokens
        self.temperature = temperature
    }
}
