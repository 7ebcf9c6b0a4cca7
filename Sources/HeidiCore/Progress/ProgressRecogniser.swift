/// Turns one line (or carriage-return segment) of stage output into a `ProgressReading`. The built-in formats are
/// parsed by hand, without regular expressions (they run on every line of a chatty trainer); a configured pattern
/// uses Swift's `Regex`.
/// (`@unchecked Sendable`: its `Regex` is used by one reader at a time, under the meter's lock.)
public struct ProgressRecogniser: @unchecked Sendable {
    private enum Kind {
        case builtIn(engine: Bool, tqdm: Bool)
        case pattern(Regex<AnyRegexOutput>)
    }

    private let kind: Kind

    /// Nil only for a pattern that does not compile (the config reader has already refused those).
    public init?(_ format: ProgressFormat) {
        switch format {
        case .auto: kind = .builtIn(engine: true, tqdm: true)
        case .tqdm: kind = .builtIn(engine: false, tqdm: true)
        case .engine: kind = .builtIn(engine: true, tqdm: false)
        case .pattern(let text):
            guard let regex = try? Regex(text) else { return nil }
            kind = .pattern(regex)
        }
    }

    /// The reading in `line`, if it is a progress line. `complete` is false for the unterminated end of the output
    /// so far: only forms that show their own end (tqdm's closing `]`, the original's `ETA Ns`) count then, so a
    /// line caught in the middle of being written is never misread.
    public func reading(in line: Substring, complete: Bool = true) -> ProgressReading? {
        switch kind {
        case .builtIn(let engine, let tqdm):
            if engine, let reading = Self.engineReading(line, complete: complete) { return reading }
            if tqdm, let reading = Self.tqdmReading(line) { return reading }
            return nil
        case .pattern(let regex):
            guard complete, let match = try? regex.firstMatch(in: line) else { return nil }
            func group(_ name: String) -> Double? { match[name]?.substring.flatMap { Self.scaled($0) } }
            guard let done = group("done") else { return nil }
            return ProgressReading(done: done, total: group("total"), rate: group("rate"), eta: group("eta"))
        }
    }

    // MARK: The original engine: `[INFO] Generated 10/50 (20%) | 3.21 it/s | ETA 12s`

    static func engineReading(_ line: Substring, complete: Bool) -> ProgressReading? {
        guard let start = line.firstRange(of: "Generated ")?.upperBound else { return nil }
        var rest = line[start...]
        guard let done = rest.takeNumber(), rest.take("/"), let total = rest.takeNumber(), rest.take(" (") else {
            return nil
        }
        var reading = ProgressReading(done: done, total: total)
        if let bar = rest.firstRange(of: "| ") {
            var rate = rest[bar.upperBound...]
            if let value = rate.takeNumber(), rate.take(" it/s") { reading.rate = value }
        }
        if let eta = rest.firstRange(of: "ETA ") {
            var text = rest[eta.upperBound...]
            if let seconds = text.takeNumber(), text.take("s") { reading.eta = seconds }
        }
        if !complete && reading.eta == nil { return nil }
        return reading
    }

    // MARK: tqdm: `desc:  45%|████▌     | 45/100 [00:01<00:02, 30.10it/s, loss=0.1]` or `45it [00:01, 30.10it/s]`

    static func tqdmReading(_ line: Substring) -> ProgressReading? {
        // The statistics block is the last `[...]` of the bar; tqdm pads the line with spaces after it.
        var trimmed = line
        while trimmed.last == " " { trimmed = trimmed.dropLast() }
        guard trimmed.last == "]", let open = trimmed.lastIndex(of: "[") else { return nil }
        let inside = trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)]
        // Before the bracket: `n/total ` or `nit `.
        var before = trimmed[..<open]
        guard before.last == " " else { return nil }
        before = before.dropLast()
        let tokenStart =
            before.lastIndex(where: { $0 == " " || $0 == "|" }).map { before.index(after: $0) } ?? before.startIndex
        var token = before[tokenStart...]
        guard let done = token.takeNumber() else { return nil }
        var reading = ProgressReading(done: done)
        if token.take("/") {
            guard let total = token.takeNumber(), token.isEmpty else { return nil }
            reading.total = total
        } else {
            guard !token.isEmpty, token.allSatisfy({ $0.isLetter }) else { return nil }  // `45it`, `12batch`
        }
        let parts = inside.split(separator: ",", omittingEmptySubsequences: false).map { $0.drop(while: { $0 == " " }) }
        guard let times = parts.first, Self.duration(times.split(separator: "<").first ?? "") != nil else { return nil }
        if let remaining = times.split(separator: "<").dropFirst().first { reading.eta = Self.duration(remaining) }
        if parts.count > 1 { reading.rate = Self.rate(parts[1]) }
        return reading
    }

    /// `00:02`, `1:02:03`, `2 days, ...` is not handled (nil); `?` is unknown (nil).
    static func duration(_ text: Substring) -> Double? {
        let fields = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(fields.count) else { return nil }
        var seconds = 0.0
        for field in fields {
            guard !field.isEmpty, field.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Double(field) else {
                return nil
            }
            seconds = seconds * 60 + value
        }
        return seconds
    }

    /// `30.10it/s` (items per second) or `1.05s/it` (seconds per item); nil for `?it/s`.
    static func rate(_ text: Substring) -> Double? {
        var rest = text
        guard let value = rest.takeNumber() else { return nil }
        if rest.hasPrefix("s/") { return value > 0 ? 1 / value : nil }
        return rest.hasSuffix("/s") ? value : nil
    }

    /// A number as tqdm or a pattern prints it: `12`, `3.5`, `1.2k`, `4M`, `1,024`.
    static func scaled(_ text: Substring) -> Double? {
        var rest = Substring(text.filter { $0 != "," && $0 != "_" })
        guard let value = rest.takeNumber(), rest.isEmpty else { return nil }
        return value
    }
}

extension Substring {
    /// Consumes `literal` when the text starts with it.
    fileprivate mutating func take(_ literal: String) -> Bool {
        guard hasPrefix(literal) else { return false }
        self = dropFirst(literal.count)
        return true
    }

    /// Consumes a decimal number (digits, one optional fraction) with an optional SI suffix k, M, G, T.
    fileprivate mutating func takeNumber() -> Double? {
        var end = startIndex
        var sawDigit = false
        var sawDot = false
        while end < endIndex {
            let c = self[end]
            if c.isASCII && c.isNumber {
                sawDigit = true
            } else if c == "." && !sawDot {
                sawDot = true
            } else {
                break
            }
            end = index(after: end)
        }
        guard sawDigit, var value = Double(self[startIndex..<end]) else { return nil }
        self = self[end...]
        if let suffix = first, let scale = ["k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12][suffix] {
            value *= scale
            self = dropFirst()
        }
        return value
    }
}
