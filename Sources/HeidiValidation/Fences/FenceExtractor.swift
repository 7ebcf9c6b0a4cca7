/// Finds the fenced code blocks of a Markdown text, the way CommonMark reads fences, with the leniency model
/// answers need.
///
/// - A fence is a line of at least three backticks or tildes, indented by any amount of spaces or tabs (model
///   answers indent fences inside list items by four and more). A backtick fence's info string may not contain a
///   backtick, so a line such as ```` ```x``` ```` is inline code, not a fence.
/// - The block closes at a line holding only a run of the same character at least as long as the opening run.
///   Shorter runs and runs followed by an info string are content: nested fences and backticks inside code
///   survive.
/// - The opening fence's indentation is removed from each content line (as far as the line has it).
/// - `\r\n` and `\r` line ends are accepted.
/// - A block still open at the end of the text is taken, marked unterminated.
public enum FenceExtractor {
    /// The fenced blocks of `text`, in order.
    public static func extract(_ text: String) -> [FencedBlock] {
        var blocks: [FencedBlock] = []
        var open: OpenFence?
        for (index, line) in lines(of: text).enumerated() {
            if var fence = open {
                if fence.isClosed(by: line) {
                    blocks.append(fence.block(terminated: true))
                    open = nil
                } else {
                    fence.append(line)
                    open = fence
                }
            } else if let fence = OpenFence(line: line, lineNumber: index + 1) {
                open = fence
            }
        }
        if let fence = open { blocks.append(fence.block(terminated: false)) }
        return blocks
    }

    /// `text` split at `\n`, `\r\n` and lone `\r`.
    static func lines(of text: String) -> [Substring] {
        var result: [Substring] = []
        var start = text.startIndex
        var index = start
        // Scalars, not Characters: "\r\n" is one Character, and splitting on Characters would hide it.
        let scalars = text.unicodeScalars
        while index < text.endIndex {
            let scalar = scalars[index]
            if scalar == "\n" || scalar == "\r" {
                result.append(text[start..<index])
                var next = scalars.index(after: index)
                if scalar == "\r", next < text.endIndex, scalars[next] == "\n" { next = scalars.index(after: next) }
                start = next
                index = next
            } else {
                index = scalars.index(after: index)
            }
        }
        result.append(text[start..<text.endIndex])
        return result
    }
}

/// A fence seen but not yet closed, with the content collected so far.
private struct OpenFence {
    let marker: Character
    let length: Int
    let indent: Int
    let infoString: String
    let lineNumber: Int
    var content: [Substring] = []

    /// The fence opened by `line`, if it opens one.
    init?(line: Substring, lineNumber: Int) {
        let indent = line.prefix { $0 == " " || $0 == "\t" }.count
        let rest = line.dropFirst(indent)
        guard let marker = rest.first, marker == "`" || marker == "~" else { return nil }
        let length = rest.prefix { $0 == marker }.count
        guard length >= 3 else { return nil }
        let info = rest.dropFirst(length)
        if marker == "`" && info.contains("`") { return nil }
        self.marker = marker
        self.length = length
        self.indent = indent
        self.infoString = String(info.trimmed())
        self.lineNumber = lineNumber
    }

    /// Whether `line` is a closing fence for this block.
    func isClosed(by line: Substring) -> Bool {
        let rest = line.drop { $0 == " " || $0 == "\t" }
        let run = rest.prefix { $0 == marker }.count
        return run >= length && rest.dropFirst(run).allSatisfy { $0 == " " || $0 == "\t" }
    }

    mutating func append(_ line: Substring) {
        var stripped = line
        var removed = 0
        while removed < indent, let first = stripped.first, first == " " || first == "\t" {
            stripped = stripped.dropFirst()
            removed += 1
        }
        content.append(stripped)
    }

    func block(terminated: Bool) -> FencedBlock {
        FencedBlock(
            infoString: infoString,
            code: content.joined(separator: "\n"),
            openingLine: lineNumber,
            isTerminated: terminated
        )
    }
}
