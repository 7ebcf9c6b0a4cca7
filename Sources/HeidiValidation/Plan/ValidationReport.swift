/// The verdict on one model answer.
public struct ValidationReport: Sendable, Codable, Equatable {
    /// True when the sample may be kept.
    public var passed: Bool
    /// Every fenced block of the answer, in order, checked or not.
    public var blocks: [BlockResult]
    /// Why the sample was rejected (a `RejectionCode`), nil when it passed. With several failing blocks, the first
    /// one's reason.
    public var rejectionReason: String?
    /// Notes on the whole answer, deduplicated in order of appearance: the blocks' notes (`unterminated_fence`,
    /// `toolchain_missing_<lang>` when failing open, …).
    public var notes: [String]

    public init(passed: Bool, blocks: [BlockResult], rejectionReason: String?, notes: [String] = []) {
        self.passed = passed
        self.blocks = blocks
        self.rejectionReason = rejectionReason
        self.notes = notes
    }
}

/// What became of one fenced block.
public struct BlockResult: Sendable, Codable, Equatable {
    /// The block's position among the answer's fenced blocks, from 0.
    public var index: Int
    /// The 1-based line of its opening fence in the answer.
    public var line: Int
    /// The canonical language name (`python`, `cpp`, `javascript`, `go`), the normalized tag of a language heidi
    /// does not check (`rust`, `bash`, `json`), `shell` for a guessed shell session, or `unknown`.
    public var language: String
    /// Where `language` came from.
    public var languageSource: LanguageSource
    /// True when a toolchain checked the block.
    public var validated: Bool
    /// False when this block rejects the sample.
    public var passed: Bool
    /// Why it failed (a `RejectionCode`), nil when it passed.
    public var reason: String?
    /// The first lines of the toolchain's complaint, truncated (for syntax errors, timeouts and toolchain errors).
    public var diagnostic: String?
    /// Wall time of the toolchain runs for this block (not the wait for a free slot); 0 when nothing ran.
    public var durationMs: Int
    /// Remarks that did not reject the block (`unterminated_fence`, `empty_block`, `toolchain_missing_<lang>`, …).
    public var notes: [String]

    public init(
        index: Int,
        line: Int,
        language: String,
        languageSource: LanguageSource,
        validated: Bool,
        passed: Bool,
        reason: String? = nil,
        diagnostic: String? = nil,
        durationMs: Int = 0,
        notes: [String] = []
    ) {
        self.index = index
        self.line = line
        self.language = language
        self.languageSource = languageSource
        self.validated = validated
        self.passed = passed
        self.reason = reason
        self.diagnostic = diagnostic
        self.durationMs = durationMs
        self.notes = notes
    }
}
