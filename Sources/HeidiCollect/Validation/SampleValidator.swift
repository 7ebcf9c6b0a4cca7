/// What a validator decided about one generated answer.
///
/// This is heidi-collect's own view of validation: the rest of the module only sees `SampleValidator`, so the
/// real toolchain validator (HeidiValidation's `CodeValidator`) plugs in through one adapter (`Validators.make`).
public struct SampleVerdict: Sendable, Equatable {
    /// The answer may go into the dataset.
    public var passed: Bool
    /// A stable short code when it may not (`syntax_error_python`, `no_code_block`, ...); nil when it passed.
    public var rejectionReason: String?
    /// Languages of the code blocks that were checked, in the order they appear.
    public var languages: [String]

    public init(passed: Bool, rejectionReason: String? = nil, languages: [String] = []) {
        self.passed = passed
        self.rejectionReason = passed ? nil : (rejectionReason ?? "rejected")
        self.languages = languages
    }

    /// A passing verdict.
    public static func accepted(languages: [String] = []) -> SampleVerdict {
        SampleVerdict(passed: true, languages: languages)
    }

    /// A failing verdict with a reason code.
    public static func rejected(_ reason: String, languages: [String] = []) -> SampleVerdict {
        SampleVerdict(passed: false, rejectionReason: reason, languages: languages)
    }
}

/// Checks a teacher's answer before it is written. Called concurrently, once per generated answer.
public protocol SampleValidator: Sendable {
    /// A short name for records and logs (`none`, `toolchains`, ...).
    var name: String { get }
    /// Decides whether `text` (a whole model answer, prose and fenced code) is acceptable for `expectedLanguage`.
    func validate(_ text: String, expectedLanguage: String?) async -> SampleVerdict
}

/// Accepts everything: `--no-validate`, and the default until a real validator is plugged in.
public struct AcceptAllValidator: SampleValidator {
    public init() {}
    public var name: String { "none" }
    public func validate(_ text: String, expectedLanguage: String?) async -> SampleVerdict { .accepted() }
}
