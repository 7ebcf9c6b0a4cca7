/// heidi-collect's exit status (also listed in `heidi-collect --help` and the README).
public enum CollectExitCode {
    /// Every prompt was tried; the output is written (some prompts may have failed or been rejected: see counters).
    public static let success: Int32 = 0
    /// The output could not be written, or another runtime failure.
    public static let failure: Int32 = 1
    /// Bad flags, config, templates, prompt file, API key file or output path, or a budget too small for a single
    /// request; nothing was sent.
    public static let usage: Int32 = 2
    /// A budget (--max-requests, --max-tokens, --max-cost) stopped the run; what was collected is written (a budget
    /// too small for the first request is `usage`, and writes nothing).
    public static let budgetExhausted: Int32 = 3
    /// No request succeeded, or the provider refused us (HTTP 401/403/404); nothing is written.
    public static let providerFailed: Int32 = 4
    /// Interrupted by SIGINT (130) or SIGTERM (143): 128 + the signal; nothing is written.
    public static func interrupted(signal: Int32) -> Int32 { 128 + signal }
}
