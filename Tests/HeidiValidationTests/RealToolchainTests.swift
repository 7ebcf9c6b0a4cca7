import Testing

@testable import HeidiValidation

/// Good and bad code through the real python3, g++, node and gofmt. A missing toolchain fails these tests with
/// the Debian package to install; they never skip.
@Suite(.serialized) struct RealToolchainTests {
    static let bad: [(CodeLanguage, String, String)] = [
        (.python, "def broken(:\n    return 1\n", "SyntaxError"),
        (.python, "if True:\nprint('not indented')\n", "IndentationError"),
        (.python, "print 'python 2'\n", "SyntaxError"),
        (.cpp, "int main() {\n    return 0\n}\n", "error"),
        (.cpp, "#include <vector>\nstd::vector<int> v = {1, 2;\n", "error"),
        (.javascript, "function f( {\n  return 1;\n}\n", "SyntaxError"),
        (.javascript, "const x = ;\n", "SyntaxError"),
        (.go, "package main\n\nfunc main() {\n\tfmt.Println(\"x\"\n}\n", "snippet.go"),
        (.go, "func f() int {\n\treturn 1 +\n", "snippet.go"),
    ]

    @Test func toolchainsArePresent() {
        let validator = realToolchainValidator()
        #expect(validator.availableToolchains() == ["python": true, "cpp": true, "javascript": true, "go": true])
    }

    /// Every corpus snippet is valid code: tagged, untagged (guessed) and with the expected language, it passes.
    @Test func corpusSnippetsPass() async {
        let validator = realToolchainValidator()
        for snippet in Corpus.code {
            let guessed = await validator.validate(
                "Here you go:\n" + fenced(snippet.text) + "\nHope it helps.",
                expectedLanguage: nil
            )
            #expect(guessed.passed, "\(snippet.language)/\(snippet.name) untagged: \(guessed.summary)")
            #expect(guessed.blocks.first?.language == snippet.language.rawValue)
            #expect(guessed.blocks.first?.languageSource == "guessed")
            #expect(guessed.blocks.first?.validated == true)
            let tagged = await validator.validate(
                fenced(snippet.text, tag: snippet.language.rawValue),
                expectedLanguage: snippet.language.rawValue
            )
            #expect(tagged.passed, "\(snippet.language)/\(snippet.name) tagged: \(tagged.summary)")
            #expect(tagged.blocks.first?.languageSource == .fence)
        }
    }

    @Test(arguments: bad.indices)
    func badCodeIsRejected(_ index: Int) async {
        let (language, code, diagnosticPart) = Self.bad[index]
        let validator = realToolchainValidator()
        let report = await validator.validate(fenced(code, tag: language.rawValue), expectedLanguage: language.rawValue)
        #expect(!report.passed)
        #expect(report.rejectionReason == "syntax_error_\(language.rawValue)", "\(report.summary)")
        let block = report.blocks.first
        #expect(block?.validated == true)
        #expect(block?.reason == RejectionCode.syntaxError(language))
        let diagnostic = block?.diagnostic ?? ""
        #expect(diagnostic.contains(diagnosticPart), "diagnostic: \(diagnostic)")
        #expect(!diagnostic.contains("heidi-check-"), "the scratch directory leaks into the diagnostic: \(diagnostic)")
        #expect(diagnostic.split(separator: "\n").count <= validator.configuration.diagnosticMaxLines + 1)
    }

    /// A first failing block rejects the answer even when a later one is fine, and each block gets its own result.
    @Test func mixedAnswer() async {
        let validator = realToolchainValidator()
        let text = """
            First the broken version:

            ```python
            def f(:
                pass
            ```

            Install the dependency:

            ```bash
            pip install requests
            ```

            And the fixed one:

            ```python
            def f():
                pass
            ```
            """
        let report = await validator.validate(text, expectedLanguage: "python")
        #expect(report.rejectionReason == "syntax_error_python")
        #expect(report.blocks.map(\.passed) == [false, true, true])
        #expect(report.blocks.map(\.validated) == [true, false, true])
        #expect(report.blocks.map(\.line) == [3, 10, 16])
    }

    /// Go fragments: declarations without `package`, and bare statements, as gofmt accepts them on stdin.
    @Test func goFragments() async {
        let validator = realToolchainValidator()
        let declarations = await validator.validate(
            fenced("func add(a, b int) int { return a + b }", tag: "go"),
            expectedLanguage: "go"
        )
        #expect(declarations.passed, "\(declarations.summary)")
        let statements = await validator.validate(
            fenced("x := 1\nif x > 0 {\n\tfmt.Println(x)\n}", tag: "go"),
            expectedLanguage: "go"
        )
        #expect(statements.passed, "\(statements.summary)")
        let badStatements = await validator.validate(
            fenced("x := 1\nif x > 0 {\n\tfmt.Println(x\n}", tag: "go"),
            expectedLanguage: "go"
        )
        #expect(badStatements.rejectionReason == "syntax_error_go", "\(badStatements.summary)")
    }

    /// ES modules are checked as modules, CommonJS as scripts (top-level `return` is fine there).
    @Test func javascriptModules() async {
        let validator = realToolchainValidator()
        let module = await validator.validate(
            fenced("import fs from 'fs';\nexport const a = fs;", tag: "js"),
            expectedLanguage: nil
        )
        #expect(module.passed, "\(module.summary)")
        let script = await validator.validate(
            fenced("const a = require('fs');\nmodule.exports = a;", tag: "js"),
            expectedLanguage: nil
        )
        #expect(script.passed, "\(script.summary)")
    }

    /// An unterminated fence at the end of the answer is still checked, with a note.
    @Test func unterminatedFenceIsChecked() async {
        let validator = realToolchainValidator()
        let report = await validator.validate(
            "Code:\n```cpp\nint twice(int x) { return 2 * x; }\n",
            expectedLanguage: "cpp"
        )
        #expect(report.passed, "\(report.summary)")
        #expect(report.notes == [RejectionCode.unterminatedFence])
        let broken = await validator.validate(
            "Code:\n```cpp\nint twice(int x) { return 2 * x;\n",
            expectedLanguage: "cpp"
        )
        #expect(broken.rejectionReason == "syntax_error_cpp")
    }

    @Test func answersWithoutCode() async {
        let validator = realToolchainValidator()
        #expect(
            await validator.validate("No code here.", expectedLanguage: "python").rejectionReason == "no_code_block"
        )
        #expect(
            await validator.validate(fenced("x", tag: "rust"), expectedLanguage: "rust").rejectionReason
                == "unsupported_language"
        )
        #expect(
            await validator.validate(fenced("fn main() {}", tag: "rust"), expectedLanguage: "python").rejectionReason
                == "language_mismatch"
        )
    }
}
