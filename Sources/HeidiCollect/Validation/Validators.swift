/// The one place that chooses the validator heidi-collect uses.
///
/// Integration point for HeidiValidation: when its `CodeValidator` is available, `make(enabled:)` returns an
/// adapter (`CodeValidator.validate` → `ValidationReport` → `SampleVerdict`: `passed`, `rejectionReason`, the
/// blocks' languages). Nothing else in the module needs to change.
public enum Validators {
    /// The validator for a run: toolchain validation when `enabled` (`--validate`), nil for `--no-validate`.
    public static func make(enabled: Bool) -> (any SampleValidator)? {
        guard enabled else { return nil }
        // Until HeidiValidation's CodeValidator lands, validation accepts every answer.
        return AcceptAllValidator()
    }

    /// Whether `make(enabled: true)` really checks code (false while only the no-op validator exists), so the
    /// command can say so instead of silently claiming validation.
    public static var toolchainValidationAvailable: Bool { false }
}
