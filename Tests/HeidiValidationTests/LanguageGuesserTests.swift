import Testing

@testable import HeidiValidation

@Suite struct LanguageGuesserTests {
    let guesser = LanguageGuesser()

    /// Every code snippet of the corpus is classified as its directory's language, and accuracy is reported.
    @Test func corpusAccuracyIsComplete() {
        let corpus = Corpus.code
        #expect(corpus.count >= 32, "the corpus should hold several snippets per language")
        for language in CodeLanguage.allCases {
            #expect(corpus.filter { $0.language == language }.count >= 8, "too few \(language) snippets in the corpus")
        }
        var wrong: [String] = []
        for snippet in corpus {
            let guess = guesser.guess(snippet.text)
            if guess.language != snippet.language {
                wrong.append(
                    "\(snippet.language)/\(snippet.name) → \(guess.category?.rawValue ?? "unknown") \(Self.format(guess.scores))"
                )
            }
        }
        let accuracy = Double(corpus.count - wrong.count) / Double(corpus.count)
        #expect(
            wrong.isEmpty,
            "accuracy \(accuracy) on \(corpus.count) snippets; misclassified:\n\(wrong.joined(separator: "\n"))"
        )
    }

    /// Shell sessions are recognised as such, so an untagged `pip install` block is never checked as Python.
    @Test(arguments: Corpus.snippets("shell").map(\.name))
    func shellSessions(_ name: String) {
        let text = Corpus.snippets("shell").first { $0.name == name }?.text ?? ""
        let guess = guesser.guess(text)
        #expect(guess.category == .shell, "\(name): \(Self.format(guess.scores))")
        // Even when Python is expected.
        #expect(guesser.guess(text, expecting: .python).category == .shell, "\(name) with Python expected")
    }

    /// Output, prose and other non-code gets no guess at all.
    @Test(arguments: Corpus.snippets("unknown").map(\.name))
    func nonCodeIsUnknown(_ name: String) {
        let text = Corpus.snippets("unknown").first { $0.name == name }?.text ?? ""
        let guess = guesser.guess(text)
        #expect(guess.category == nil, "\(name) → \(guess.category?.rawValue ?? "-") \(Self.format(guess.scores))")
    }

    /// Short or ambiguous snippets: no guess alone, the expected language when one is given and the clues allow.
    @Test func ambiguousSnippetsFollowTheExpectation() {
        let ambiguous = ["x = 1", "return a + b;", "foo(bar);", "if (x) {\n  y();\n}"]
        for text in ambiguous {
            #expect(guesser.guess(text).category == nil, "\(text): \(Self.format(guesser.scores(text)))")
        }
        // `if (x) { y(); }` is valid C++, JavaScript and (braces aside) neither Python nor Go: expectations decide.
        #expect(guesser.guess("return a + b;", expecting: .javascript).language == .javascript)
        #expect(guesser.guess("return a + b;", expecting: .cpp).language == .cpp)
        #expect(guesser.guess("x = 1", expecting: .python).language == .python)
    }

    /// A clear case for another language is not overridden by the expectation.
    @Test func strongCluesBeatTheExpectation() {
        let cpp = "#include <iostream>\nint main() {\n    std::cout << 1;\n}"
        #expect(guesser.guess(cpp, expecting: .python).language == .cpp)
        let go = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(1)\n}"
        #expect(guesser.guess(go, expecting: .javascript).language == .go)
        let python = "def f(x):\n    return x is None\n"
        #expect(guesser.guess(python, expecting: .cpp).language == .python)
    }

    @Test func shebangsDecide() {
        #expect(guesser.guess("#!/usr/bin/env python3\nmain()").language == .python)
        #expect(guesser.guess("#!/usr/bin/env node\nmain()").language == .javascript)
        #expect(guesser.guess("#!/bin/bash\nmain").category == .shell)
    }

    @Test func commentsAreNotClues() {
        // "# include" and "and/or" in comments must not count for C++ or Python.
        let js = "// check that a and b are set\nconst a = 1;\nconst b = 2;\nconsole.log(a + b);"
        #expect(guesser.guess(js).language == .javascript)
        let python = "# include the header later\nimport os\nprint(os.getcwd())"
        #expect(guesser.guess(python).language == .python)
    }

    /// The same input always gives the same scores and answer.
    @Test func deterministic() {
        for snippet in Corpus.code {
            let first = guesser.guess(snippet.text)
            for _ in 0..<3 { #expect(guesser.guess(snippet.text) == first) }
        }
    }

    static func format(_ scores: [GuessCategory: Double]) -> String {
        GuessCategory.allCases.map { "\($0.rawValue)=\(scores[$0] ?? 0)" }.joined(separator: " ")
    }
}
