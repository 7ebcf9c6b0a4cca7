/// Hard limits for one run. A request is issued only while it fits: the requests sent so far, and the tokens and
/// cost used plus what requests in flight may still use (each reserves its worst case: the prompt's estimated
/// tokens plus `max_tokens` of output), stay within every limit.
public struct Budget: Sendable, Equatable {
    public var maxRequests: Int?
    public var maxTokens: Int?
    public var maxCostUSD: Double?

    public init(maxRequests: Int? = nil, maxTokens: Int? = nil, maxCostUSD: Double? = nil) {
        self.maxRequests = maxRequests
        self.maxTokens = maxTokens
        self.maxCostUSD = maxCostUSD
    }

    public var isUnlimited: Bool { maxRequests == nil && maxTokens == nil && maxCostUSD == nil }
    var maxCostMicros: Double? { maxCostUSD.map { $0 * 1_000_000 } }
}

/// Which limit ended a run.
public enum BudgetKind: String, Sendable, Equatable {
    case requests = "max_requests"
    case tokens = "max_tokens"
    case cost = "max_cost"
}

/// Why a run stopped issuing requests before every prompt was tried.
public enum StopCause: Sendable, Equatable, CustomStringConvertible {
    /// A budget was reached; the message says which and how far.
    case budgetExhausted(BudgetKind, String)
    /// The provider refused in a way every further request would repeat (bad key, unknown model or URL).
    case providerUnusable(String)

    public var description: String {
        switch self {
        case .budgetExhausted(_, let message): return "budget exhausted: \(message)"
        case .providerUnusable(let message): return "the provider cannot be used: \(message)"
        }
    }
}

/// What one request has set aside against the budget until it settles.
struct Reservation: Sendable {
    var tokens: Int
    var costMicros: Double
}

/// A request's worst case, reserved before it is sent.
struct RequestEstimate: Sendable {
    var inputTokens: Int
    var outputTokens: Int
    var tokens: Int { inputTokens + outputTokens }

    /// Prompt tokens are estimated generously (three bytes per token, plus the message framing) so that a
    /// reservation covers what the provider will count.
    static func of(_ task: PromptTask, maxOutputTokens: Int) -> RequestEstimate {
        let bytes = task.system.utf8.count + task.userMessage.utf8.count
        return RequestEstimate(inputTokens: bytes / 3 + 16, outputTokens: maxOutputTokens)
    }
}
