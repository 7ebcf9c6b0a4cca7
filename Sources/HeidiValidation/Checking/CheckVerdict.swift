/// What one block's check came to, before it becomes a `BlockResult`.
enum CheckVerdict: Sendable, Equatable {
    case passed
    /// The toolchain rejected the code; its complaint.
    case syntaxError(String?)
    /// The check outlived the timeout and its tree was killed.
    case timedOut(String)
    /// The toolchain is not there.
    case toolchainMissing(String)
    /// The check could not run, or ended in a way that says nothing about the code.
    case toolchainError(String)
    /// The caller's task was cancelled.
    case cancelled
}
