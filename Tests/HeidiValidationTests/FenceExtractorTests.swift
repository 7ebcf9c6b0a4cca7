import Testing

@testable import HeidiValidation

/// One extraction case: the text, and the blocks expected as (info string, code, opening line, terminated).
struct FenceCase: CustomTestStringConvertible, Sendable {
    let label: String
    let text: String
    let expected: [FencedBlock]

    init(_ label: String, _ text: String, _ expected: [(String, String, Int, Bool)]) {
        self.label = label
        self.text = text
        self.expected = expected.map {
            FencedBlock(infoString: $0.0, code: $0.1, openingLine: $0.2, isTerminated: $0.3)
        }
    }

    var testDescription: String { label }
}

@Suite struct FenceExtractorTests {
    static let cases: [FenceCase] = [
        FenceCase("no fence", "Just prose, and `inline code`.", []),
        FenceCase("empty text", "", []),
        FenceCase("one tagged block", "Here:\n```python\nprint(1)\n```\nDone.", [("python", "print(1)", 2, true)]),
        FenceCase("untagged block", "```\nx = 1\n```", [("", "x = 1", 1, true)]),
        FenceCase(
            "two blocks",
            "```js\na()\n```\ntext\n```go\nb()\n```\n",
            [("js", "a()", 1, true), ("go", "b()", 5, true)]
        ),
        FenceCase("tilde fence", "~~~cpp\nint x;\n~~~", [("cpp", "int x;", 1, true)]),
        FenceCase("tilde fence holds backtick fences", "~~~md\n```py\nx\n```\n~~~", [("md", "```py\nx\n```", 1, true)]),
        FenceCase(
            "info string with attributes",
            "``` python title=\"a.py\" \ncode\n```",
            [("python title=\"a.py\"", "code", 1, true)]
        ),
        FenceCase(
            "longer fence keeps shorter fences as content",
            "````markdown\n```python\nx = 1\n```\n````",
            [("markdown", "```python\nx = 1\n```", 1, true)]
        ),
        FenceCase("closing fence may be longer", "```\na\n`````", [("", "a", 1, true)]),
        FenceCase(
            "closing fence with info string is content",
            "```\na\n```python\nb\n```",
            [("", "a\n```python\nb", 1, true)]
        ),
        FenceCase("mixed markers do not close", "```\na\n~~~\n```", [("", "a\n~~~", 1, true)]),
        FenceCase(
            "backticks inside code lines",
            "```python\ns = \"```\"\nprint(`x`)\n```",
            [("python", "s = \"```\"\nprint(`x`)", 1, true)]
        ),
        FenceCase("inline triple backticks are not a fence", "```x``` here.\n```\ny\n```", [("", "y", 2, true)]),
        FenceCase("two backticks are not a fence", "``\nx\n``", []),
        FenceCase(
            "unterminated at end",
            "Answer:\n```python\ndef f():\n    return 1",
            [("python", "def f():\n    return 1", 2, false)]
        ),
        FenceCase("unterminated empty", "```go", [("go", "", 1, false)]),
        FenceCase(
            "CRLF line ends",
            "Text\r\n```cpp\r\nint a;\r\nint b;\r\n```\r\n",
            [("cpp", "int a;\nint b;", 2, true)]
        ),
        FenceCase("lone CR line ends", "```py\rx = 1\r```", [("py", "x = 1", 1, true)]),
        FenceCase(
            "indented fence in a list",
            "1. Step:\n\n   ```python\n   def f():\n       return 2\n   ```\n",
            [("python", "def f():\n    return 2", 3, true)]
        ),
        FenceCase(
            "deeply indented fence",
            "        ```js\n        let a = 1;\n        ```",
            [("js", "let a = 1;", 1, true)]
        ),
        FenceCase("content less indented than the fence", "  ```\n x\ny\n  ```", [("", "x\ny", 1, true)]),
        FenceCase("tab-indented fence", "\t```go\n\tx := 1\n\t```", [("go", "x := 1", 1, true)]),
        FenceCase("blank lines inside kept", "```\na\n\n\nb\n```", [("", "a\n\n\nb", 1, true)]),
        FenceCase("empty block", "```python\n```", [("python", "", 1, true)]),
        FenceCase("trailing spaces after closing fence", "```\na\n```   \nafter", [("", "a", 1, true)]),
        FenceCase(
            "unicode content",
            "```python\nprint(\"héllo wörld ✓\")\n```",
            [("python", "print(\"héllo wörld ✓\")", 1, true)]
        ),
    ]

    @Test(arguments: cases)
    func extracts(_ testCase: FenceCase) {
        #expect(FenceExtractor.extract(testCase.text) == testCase.expected)
    }

    @Test func blankBlocksAreRecognised() {
        #expect(FencedBlock(infoString: "", code: " \n\t\n", openingLine: 1).isBlank)
        #expect(!FencedBlock(infoString: "", code: " x ", openingLine: 1).isBlank)
    }
}

@Suite struct LanguageTagTests {
    static let supported: [(String, CodeLanguage)] = [
        ("python", .python), ("py", .python), ("Python3", .python), ("PY", .python), ("{.python}", .python),
        ("language-python", .python), ("python:main.py", .python), ("python title=\"x\"", .python),
        ("py,linenos", .python),
        ("c++", .cpp), ("cpp", .cpp), ("cxx", .cpp), ("cc", .cpp), ("C++17", .cpp), ("hpp", .cpp),
        ("js", .javascript), ("javascript", .javascript), ("node", .javascript), ("nodejs", .javascript),
        ("mjs", .javascript),
        ("js{1,3}", .javascript), ("go", .go), ("golang", .go), ("  Go  ", .go),
    ]

    @Test(arguments: supported)
    func supportedAliases(_ info: String, _ language: CodeLanguage) {
        #expect(LanguageTag(infoString: info) == .supported(language))
        #expect(CodeLanguage(name: info) == language)
    }

    @Test func otherTags() {
        #expect(LanguageTag(infoString: "") == .untagged)
        #expect(LanguageTag(infoString: "   ") == .untagged)
        #expect(LanguageTag(infoString: "rust") == .unsupported("rust"))
        #expect(LanguageTag(infoString: "ts") == .unsupported("typescript"))
        #expect(LanguageTag(infoString: "c") == .unsupported("c"))
        #expect(LanguageTag(infoString: "sh") == .auxiliary("sh"))
        #expect(LanguageTag(infoString: "bash") == .auxiliary("bash"))
        #expect(LanguageTag(infoString: "console") == .auxiliary("console"))
        #expect(LanguageTag(infoString: "json") == .auxiliary("json"))
        #expect(LanguageTag(infoString: "text") == .auxiliary("text"))
        #expect(LanguageTag(infoString: "example") == .unrecognized("example"))
        #expect(CodeLanguage(name: "rust") == nil)
        #expect(CodeLanguage(name: "sh") == nil)
    }
}
