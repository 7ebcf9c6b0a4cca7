/// The stable snake_case codes of `ValidationReport.rejectionReason` and `BlockResult.reason`, and of the notes on
/// accepted samples. Counters are named after them (`rejected_<code>`), so they never change once released.
public enum RejectionCode {
    /// The answer has no fenced block with code in it.
    public static let noCodeBlock = "no_code_block"
    /// A block is in another language than the expected one.
    public static let languageMismatch = "language_mismatch"
    /// The expected language, or a code block's language, has no checker (or is not enabled).
    public static let unsupportedLanguage = "unsupported_language"
    /// The validation was cancelled before the block's check finished.
    public static let cancelled = "cancelled"

    /// The toolchain reported a syntax error.
    public static func syntaxError(_ language: CodeLanguage) -> String { "syntax_error_\(language.rawValue)" }
    /// The toolchain was not found (a rejection when failing closed, a note otherwise).
    public static func toolchainMissing(_ language: CodeLanguage) -> String { "toolchain_missing_\(language.rawValue)" }
    /// The check ran longer than the per-check timeout and was killed.
    public static func timeout(_ language: CodeLanguage) -> String { "timeout_\(language.rawValue)" }
    /// The check could not run or ended unexpectedly (crash, unexpected exit status, no temporary directory).
    public static func toolchainError(_ language: CodeLanguage) -> String { "toolchain_error_\(language.rawValue)" }

    /// Note: the block's closing fence was missing; it was taken to the end of the answer.
    public static let unterminatedFence = "unterminated_fence"
    /// Note: the block was empty and not checked.
    public static let emptyBlock = "empty_block"
    /// Note: an untagged block the guesser could not place was not checked (other blocks carried the answer).
    public static let undeterminedLanguage = "undetermined_language"
}
