/// Guesses the language of an untagged code block from line-level clues (see `GuessFeatures`).
///
/// Deterministic and pure: the same text always gets the same scores and the same answer. It answers `.unknown`
/// rather than guess when the clues are weak or split between languages; the caller then decides from context.
public struct LanguageGuesser: Sendable {
    /// The least score a category needs to be chosen.
    public var minimumScore: Double
    /// How far the best category must be ahead of the second.
    public var minimumMargin: Double
    /// With an expected language, it is chosen when it scores at all and is at most this far behind the best.
    public var expectationAllowance: Double

    public init(minimumScore: Double = 2, minimumMargin: Double = 1, expectationAllowance: Double = 2) {
        self.minimumScore = minimumScore
        self.minimumMargin = minimumMargin
        self.expectationAllowance = expectationAllowance
    }

    /// The guess for `code`. `expected`, the language the answer should be in, wins whenever the clues allow it.
    public func guess(_ code: String, expecting expected: CodeLanguage? = nil) -> LanguageGuess {
        let scores = self.scores(code)
        // Highest score first; equal scores keep the declaration order, so the ranking never varies.
        let ranked = GuessCategory.allCases.enumerated().sorted { lhs, rhs in
            let (left, right) = (scores[lhs.element] ?? 0, scores[rhs.element] ?? 0)
            return left != right ? left > right : lhs.offset < rhs.offset
        }.map(\.element)
        let best = ranked[0]
        let bestScore = scores[best] ?? 0
        let secondScore = scores[ranked[1]] ?? 0
        if let expected, let expectedScore = scores[GuessCategory(language: expected)], expectedScore > 0,
            expectedScore + expectationAllowance >= bestScore
        {
            return LanguageGuess(category: GuessCategory(language: expected), scores: scores)
        }
        guard bestScore >= minimumScore, bestScore - secondScore >= minimumMargin else {
            return LanguageGuess(category: nil, scores: scores)
        }
        return LanguageGuess(category: best, scores: scores)
    }

    /// The score of every category for `code` (categories with no clue score 0).
    public func scores(_ code: String) -> [GuessCategory: Double] {
        var counts = [Int](repeating: 0, count: GuessFeatures.all.count)
        var scores: [GuessCategory: Double] = [:]
        for category in GuessCategory.allCases { scores[category] = 0 }
        for rawLine in FenceExtractor.lines(of: code) {
            let line = Substring(rawLine.trimmed())
            if line.isEmpty || line.hasPrefix("//") || line.hasPrefix("/*") || line.hasPrefix("*") { continue }
            if line.hasPrefix("#!") {
                if let category = GuessFeatures.shebang(line) { scores[category, default: 0] += 5 }
                continue
            }
            if line.hasPrefix("#") && !line.isPreprocessorDirective { continue }  // a Python or shell comment
            for (index, feature) in GuessFeatures.all.enumerated()
            where counts[index] < LineFeature.maximumCount && feature.matches(line) {
                counts[index] += 1
                scores[feature.category, default: 0] += feature.weight
            }
        }
        return scores
    }
}

/// The guesser's answer for one block.
public struct LanguageGuess: Sendable, Equatable {
    /// The chosen category, nil when the clues were too weak or too evenly split.
    public var category: GuessCategory?
    /// Every category's score.
    public var scores: [GuessCategory: Double]

    /// The guessed checked language (nil for shell and for no guess).
    public var language: CodeLanguage? { category?.language }
}

extension GuessCategory {
    init(language: CodeLanguage) {
        switch language {
        case .python: self = .python
        case .cpp: self = .cpp
        case .javascript: self = .javascript
        case .go: self = .go
        }
    }
}

extension Substring {
    /// `#include`, `#define`, …: a C preprocessor line rather than a `#` comment.
    var isPreprocessorDirective: Bool {
        let word = dropFirst().prefix { $0.isLetter }
        return ["include", "define", "pragma", "ifndef", "ifdef", "endif", "if", "undef", "else", "elif", "error"]
            .contains(String(word))
    }
}
