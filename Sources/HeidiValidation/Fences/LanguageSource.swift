/// Where a block's language came from: `fence` (its info string), `guessed` (the guesser, from its content), or
/// `expected` (the answer's expected language, for an untagged block the guesser could not place when it was the
/// answer's only candidate). Encoded as the plain string; compares equal to a string literal.
public struct LanguageSource: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    public static let fence: LanguageSource = "fence"
    public static let guessed: LanguageSource = "guessed"
    public static let expected: LanguageSource = "expected"

    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
}
