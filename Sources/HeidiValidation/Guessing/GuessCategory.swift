/// What the language guesser scores a block as: one of the checked languages, or shell (commands and console
/// sessions, which are never checked).
public enum GuessCategory: String, CaseIterable, Sendable, Codable, Hashable {
    case python, cpp, javascript, go, shell

    /// The checked language of this category, nil for shell.
    public var language: CodeLanguage? { CodeLanguage(rawValue: rawValue) }
}
