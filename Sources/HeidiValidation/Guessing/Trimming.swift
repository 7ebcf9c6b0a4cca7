extension StringProtocol {
    /// Without leading and trailing whitespace (spaces, tabs, line ends).
    func trimmed() -> SubSequence {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
            let last = lastIndex(where: { !$0.isWhitespace })
        else { return self[endIndex..<endIndex] }
        return self[first...last]
    }

    /// The leading spaces and tabs.
    var indentation: SubSequence { prefix { $0 == " " || $0 == "\t" } }
}
