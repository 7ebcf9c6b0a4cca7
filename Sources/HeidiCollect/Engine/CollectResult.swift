/// A generated answer with what validation said about it.
public struct GeneratedSample: Sendable {
    public var task: PromptTask
    public var response: TeacherResponse
    /// nil when validation is off.
    public var verdict: SampleVerdict?
    public var attempts: Int

    /// The sample may be written (validation passed or is off).
    public var accepted: Bool { verdict?.passed ?? true }
}

/// What became of one prompt.
public enum ItemOutcome: Sendable {
    case generated(GeneratedSample)
    /// Every allowed attempt failed (the last error), or a non-retryable error ended it.
    case failed(ProviderError, attempts: Int)
    /// Never sent: the run stopped issuing requests (budget, unusable provider) or was interrupted.
    case notAttempted

    var sample: GeneratedSample? {
        if case .generated(let sample) = self { return sample }
        return nil
    }
}

/// Everything a finished (or stopped) collection produced.
public struct CollectResult: Sendable {
    /// One outcome per prompt, in prompt order.
    public var outcomes: [ItemOutcome]
    /// Why requests stopped being issued early, if they did.
    public var stopCause: StopCause?
    /// The run was cancelled (a signal) before every prompt finished.
    public var interrupted: Bool
    /// Counters and usage at the end.
    public var totals: LedgerSnapshot
    /// Seconds from the first request to the last answer.
    public var elapsed: Double
}
