/// A model's price in USD per million tokens.
public struct Price: Sendable, Equatable {
    public var inputPerMillion: Double
    public var outputPerMillion: Double

    public init(inputPerMillion: Double, outputPerMillion: Double) {
        self.inputPerMillion = inputPerMillion
        self.outputPerMillion = outputPerMillion
    }

    public static let free = Price(inputPerMillion: 0, outputPerMillion: 0)

    /// Estimated cost of `usage` in micro-dollars (USD per million tokens × tokens = micro-USD).
    public func costMicros(inputTokens: Int, outputTokens: Int) -> Double {
        Double(inputTokens) * inputPerMillion + Double(outputTokens) * outputPerMillion
    }
}

/// The original engine's `DEFAULT_PRICING` (telemetry.py), USD per 1M tokens.
public enum Pricing {
    public static let defaults: [String: Price] = [
        "gpt-4o-mini": Price(inputPerMillion: 0.15, outputPerMillion: 0.60),
        "gpt-4o": Price(inputPerMillion: 2.50, outputPerMillion: 10.00),
        "gpt-4-turbo": Price(inputPerMillion: 10.00, outputPerMillion: 30.00),
        "gpt-3.5-turbo": Price(inputPerMillion: 0.50, outputPerMillion: 1.50),
        "claude-3-opus": Price(inputPerMillion: 15.00, outputPerMillion: 75.00),
        "claude-3-sonnet": Price(inputPerMillion: 3.00, outputPerMillion: 15.00),
        "claude-3-haiku": Price(inputPerMillion: 0.25, outputPerMillion: 1.25),
    ]

    /// The price of `model`: an exact entry, else the longest entry the name starts with
    /// (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`), ignoring a `provider/` prefix (`openai/gpt-4o`); nil if unknown.
    public static func price(for model: String, table: [String: Price] = defaults) -> Price? {
        let name = model.split(separator: "/").last.map(String.init)?.lowercased() ?? model.lowercased()
        if let exact = table[name] { return exact }
        let candidates = table.keys.filter {
            name.hasPrefix($0 + "-") || name.hasPrefix($0 + ":") || name.hasPrefix($0 + "@")
        }
        return candidates.max { $0.count < $1.count }.flatMap { table[$0] }
    }
}
