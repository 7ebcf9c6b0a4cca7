import HeidiValidation

/// The one place that chooses the validator heidi-collect uses.
public enum Validators {
    /// The validator for a run: HeidiValidation's toolchain checks when `enabled` (`--validate`), nil for
    /// `--no-validate`. `failClosed` false (`--allow-missing-toolchains`) accepts, with a note, code whose
    /// toolchain is not installed instead of rejecting it.
    public static func make(enabled: Bool, failClosed: Bool = true) -> (any SampleValidator)? {
        guard enabled else { return nil }
        var configuration = ValidationConfiguration()
        configuration.failClosed = failClosed
        return ToolchainValidator(CodeValidator(configuration: configuration))
    }

    /// Whether `make(enabled: true)` really checks code.
    public static var toolchainValidationAvailable: Bool { true }
}

/// Adapts HeidiValidation's `CodeValidator` (g++, node, gofmt, python3 as supervised children) to `SampleValidator`.
struct ToolchainValidator: SampleValidator {
    let validator: CodeValidator

    init(_ validator: CodeValidator) { self.validator = validator }

    var name: String { "toolchains" }

    func validate(_ text: String, expectedLanguage: String?) async -> SampleVerdict {
        let report = await validator.validate(text, expectedLanguage: expectedLanguage)
        let languages = report.blocks.map(\.language)
        return report.passed
            ? .accepted(languages: languages) : .rejected(report.rejectionReason ?? "rejected", languages: languages)
    }
}
