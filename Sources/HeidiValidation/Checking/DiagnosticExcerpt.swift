/// The first lines of a toolchain's complaint, for `BlockResult.diagnostic`: stderr (stdout when stderr is
/// empty), blank lines dropped, the scratch directory's path removed, at most `maxLines` lines of at most 240
/// characters and `maxCharacters` in all, with a marker where something was cut.
enum DiagnosticExcerpt {
    static let maxLineCharacters = 240

    static func make(stderr: String, stdout: String, scratchPath: String?, maxLines: Int, maxCharacters: Int) -> String?
    {
        var text = stderr.allSatisfy(\.isWhitespace) ? stdout : stderr
        if let scratchPath, !scratchPath.isEmpty { text = text.replacingAll(scratchPath + "/", with: "") }
        let lines = FenceExtractor.lines(of: text).filter { !$0.allSatisfy(\.isWhitespace) }
        guard !lines.isEmpty else { return nil }
        var kept: [String] = []
        var used = 0
        for line in lines.prefix(max(1, maxLines)) {
            var piece = String(line)
            if piece.count > maxLineCharacters { piece = String(piece.prefix(maxLineCharacters)) + "…" }
            if used + piece.count > maxCharacters {
                let room = maxCharacters - used
                if room > 0 { kept.append(String(piece.prefix(room)) + "…") }
                used = maxCharacters
                break
            }
            kept.append(piece)
            used += piece.count + 1
        }
        let omitted = lines.count - kept.count
        if omitted > 0 { kept.append("… (\(omitted) more line\(omitted == 1 ? "" : "s"))") }
        return kept.joined(separator: "\n")
    }
}

extension String {
    /// Every occurrence of `target` replaced by `replacement`.
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }
}
