/// Tells the operator about failed attempts without flooding stderr: the first occurrence of each kind of failure
/// (`http_500`, `timeout`, ...) is described in full, later ones are only counted (they appear in the progress
/// lines and the summary).
public actor FailureReporter {
    private let sink: (@Sendable (String) -> Void)?
    private var seen: Set<String> = []

    /// `sink` nil: report nothing.
    public init(sink: (@Sendable (String) -> Void)?) { self.sink = sink }

    func report(_ error: ProviderError, task: PromptTask, attempt: Int, final: Bool) {
        let code = error.code
        guard let sink, code != "cancelled", seen.insert(code).inserted else { return }
        let what = final ? "failed" : "will be retried"
        sink("prompt \(task.id) attempt \(attempt) \(what): \(error) (further \(code) failures are counted, not shown)")
    }
}
