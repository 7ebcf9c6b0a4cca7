/// One fenced code block of a Markdown text.
public struct FencedBlock: Sendable, Equatable {
    /// The text after the opening fence, trimmed (`python`, `c++ title="a.cpp"`, or empty).
    public var infoString: String
    /// The lines between the fences joined with `\n`, without the final newline; carriage returns removed and
    /// the opening fence's indentation taken off every line (as CommonMark does).
    public var code: String
    /// The 1-based line of the opening fence in the text.
    public var openingLine: Int
    /// False when the text ended before a closing fence: the block runs to the end of the text.
    public var isTerminated: Bool

    public init(infoString: String, code: String, openingLine: Int, isTerminated: Bool = true) {
        self.infoString = infoString
        self.code = code
        self.openingLine = openingLine
        self.isTerminated = isTerminated
    }

    /// What the info string says about the content.
    public var tag: LanguageTag { LanguageTag(infoString: infoString) }

    /// True when the block holds nothing but whitespace.
    public var isBlank: Bool { code.allSatisfy(\.isWhitespace) }
}
