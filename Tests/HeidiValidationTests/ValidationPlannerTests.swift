import Testing

@testable import HeidiValidation

/// One planning case: an answer, the expected language, and per block (language, source, action) plus the
/// answer-level rejection.
struct PlanCase: CustomTestStringConvertible, Sendable {
    let label: String
    let text: String
    let expected: String?
    let blocks: [(String, LanguageSource, PlannedBlock.Action)]
    let rejection: String?
    var enabled: Set<CodeLanguage> = Set(CodeLanguage.allCases)

    var testDescription: String { label }
}

@Suite struct ValidationPlannerTests {
    static let pythonCode = "def add(a, b):\n    return a + b\n"
    static let cppCode = "#include <vector>\nstd::vector<int> v;\n"

    static let cases: [PlanCase] = [
        PlanCase(
            label: "no blocks",
            text: "Just words.",
            expected: "python",
            blocks: [],
            rejection: RejectionCode.noCodeBlock
        ),
        PlanCase(
            label: "tagged block checked",
            text: fenced(pythonCode, tag: "py"),
            expected: "python",
            blocks: [("python", .fence, .check(.python))],
            rejection: nil
        ),
        PlanCase(
            label: "expected language alias",
            text: fenced(cppCode, tag: "c++"),
            expected: "C++",
            blocks: [("cpp", .fence, .check(.cpp))],
            rejection: nil
        ),
        PlanCase(
            label: "untagged block guessed",
            text: fenced(pythonCode),
            expected: nil,
            blocks: [("python", .guessed, .check(.python))],
            rejection: nil
        ),
        PlanCase(
            label: "tagged other checked language mismatches",
            text: fenced(cppCode, tag: "cpp"),
            expected: "python",
            blocks: [("cpp", .fence, .reject(RejectionCode.languageMismatch))],
            rejection: nil
        ),
        PlanCase(
            label: "guessed other language mismatches",
            text: fenced(cppCode),
            expected: "python",
            blocks: [("cpp", .guessed, .reject(RejectionCode.languageMismatch))],
            rejection: nil
        ),
        PlanCase(
            label: "unsupported tag without expectation",
            text: fenced("fn main() {}", tag: "rust"),
            expected: nil,
            blocks: [("rust", .fence, .reject(RejectionCode.unsupportedLanguage))],
            rejection: nil
        ),
        PlanCase(
            label: "unsupported tag with expectation mismatches",
            text: fenced("fn main() {}", tag: "rust"),
            expected: "go",
            blocks: [("rust", .fence, .reject(RejectionCode.languageMismatch))],
            rejection: nil
        ),
        PlanCase(
            label: "unsupported expected language",
            text: fenced("fn main() {}", tag: "rust"),
            expected: "rust",
            blocks: [("rust", .fence, .skip)],
            rejection: RejectionCode.unsupportedLanguage
        ),
        PlanCase(
            label: "shell and output skipped beside code",
            text: fenced("pip install x", tag: "bash") + fenced(pythonCode, tag: "python") + fenced("3", tag: "text"),
            expected: "python",
            blocks: [("bash", .fence, .skip), ("python", .fence, .check(.python)), ("text", .fence, .skip)],
            rejection: nil
        ),
        PlanCase(
            label: "only shell is no code",
            text: fenced("pip install requests"),
            expected: "python",
            blocks: [("shell", .guessed, .skip)],
            rejection: RejectionCode.noCodeBlock
        ),
        PlanCase(
            label: "only auxiliary tags is no code",
            text: fenced("{}", tag: "json"),
            expected: nil,
            blocks: [("json", .fence, .skip)],
            rejection: RejectionCode.noCodeBlock
        ),
        PlanCase(
            label: "undetermined sole block takes the expected language",
            text: fenced("compute(1, 2)"),
            expected: "python",
            blocks: [("python", .expected, .check(.python))],
            rejection: nil
        ),
        PlanCase(
            label: "undetermined block without expectation",
            text: fenced("Hello, World!"),
            expected: nil,
            blocks: [("unknown", .guessed, .skip)],
            rejection: RejectionCode.noCodeBlock
        ),
        PlanCase(
            label: "undetermined block beside code is skipped",
            text: fenced(pythonCode, tag: "python") + fenced("Hello, World!"),
            expected: "python",
            blocks: [("python", .fence, .check(.python)), ("unknown", .guessed, .skip)],
            rejection: nil
        ),
        PlanCase(
            label: "empty block skipped",
            text: "```python\n\n```\n",
            expected: "python",
            blocks: [("python", .fence, .skip)],
            rejection: RejectionCode.noCodeBlock
        ),
        PlanCase(
            label: "unknown tag word is guessed",
            text: fenced(pythonCode, tag: "example"),
            expected: nil,
            blocks: [("python", .guessed, .check(.python))],
            rejection: nil
        ),
        PlanCase(
            label: "disabled language is unsupported",
            text: fenced(cppCode, tag: "cpp"),
            expected: nil,
            blocks: [("cpp", .fence, .reject(RejectionCode.unsupportedLanguage))],
            rejection: nil,
            enabled: [.python]
        ),
        PlanCase(
            label: "disabled expected language",
            text: fenced(cppCode, tag: "cpp"),
            expected: "cpp",
            blocks: [("cpp", .fence, .skip)],
            rejection: RejectionCode.unsupportedLanguage,
            enabled: [.python]
        ),
        PlanCase(
            label: "blank expected language means none",
            text: fenced(cppCode, tag: "cpp"),
            expected: "  ",
            blocks: [("cpp", .fence, .check(.cpp))],
            rejection: nil
        ),
    ]

    @Test(arguments: cases)
    func plans(_ testCase: PlanCase) {
        let planner = ValidationPlanner(enabledLanguages: testCase.enabled)
        let plan = planner.plan(FenceExtractor.extract(testCase.text), expectedLanguage: testCase.expected)
        #expect(plan.rejection == testCase.rejection)
        #expect(plan.blocks.map(\.language) == testCase.blocks.map(\.0))
        #expect(plan.blocks.map(\.source) == testCase.blocks.map(\.1))
        #expect(plan.blocks.map(\.action) == testCase.blocks.map(\.2))
    }

    @Test func notes() {
        let planner = ValidationPlanner(enabledLanguages: Set(CodeLanguage.allCases))
        let unterminated = planner.plan(FenceExtractor.extract("```python\nprint(1)"), expectedLanguage: nil)
        #expect(unterminated.blocks.first?.notes == [RejectionCode.unterminatedFence])
        #expect(unterminated.blocks.first?.action == .check(.python))
        let empty = planner.plan(FenceExtractor.extract("```go\n   \n```"), expectedLanguage: nil)
        #expect(empty.blocks.first?.notes == [RejectionCode.emptyBlock])
        let undetermined = planner.plan(
            FenceExtractor.extract(fenced("print(1)", tag: "py") + fenced("42")),
            expectedLanguage: nil
        )
        #expect(undetermined.blocks.last?.notes == [RejectionCode.undeterminedLanguage])
    }
}
