/// One toolchain run that checks a block's syntax: the file to write, the arguments after the executable, and the
/// exit statuses that mean "syntax error" (any other failure is a toolchain error, not the code's fault).
///
/// | language   | command (in the scratch directory)                                           | syntax error |
/// |------------|------------------------------------------------------------------------------|--------------|
/// | python     | `python3 -I -B -c <py_compile driver> snippet.py snippet.pyc`                | exit 1       |
/// | cpp        | `g++ -fsyntax-only -std=c++17 -x c++ -fmax-errors=10 snippet.cpp`            | exit 1       |
/// | javascript | `node --check snippet.js` (`snippet.mjs` for ES modules)                     | exit 1       |
/// | go         | `gofmt -l -e snippet.go`                                                     | exit 2       |
struct SyntaxCheck: Sendable, Equatable {
    var language: CodeLanguage
    var fileName: String
    var source: String
    var arguments: [String]
    var syntaxErrorStatuses: Set<Int>

    /// Compiles the file given as argument 1 to the bytecode file given as argument 2, so nothing is written
    /// outside the scratch directory; a syntax error prints the compiler's message and exits 1, anything else
    /// that goes wrong exits 3.
    static let pythonDriver = """
        import sys, py_compile
        try:
            py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)
        except py_compile.PyCompileError as error:
            sys.stderr.write(error.msg.rstrip() + "\\n")
            sys.exit(1)
        except BaseException as error:
            sys.stderr.write("py_compile failed: %r\\n" % (error,))
            sys.exit(3)
        """

    /// The first check for `code` in `language`.
    static func primary(_ language: CodeLanguage, code: String, cppStandard: String) -> SyntaxCheck {
        switch language {
        case .python:
            return SyntaxCheck(
                language: .python,
                fileName: "snippet.py",
                source: PythonSource.dedented(code) + "\n",
                arguments: ["-I", "-B", "-c", pythonDriver, "snippet.py", "snippet.pyc"],
                syntaxErrorStatuses: [1]
            )
        case .cpp:
            return SyntaxCheck(
                language: .cpp,
                fileName: "snippet.cpp",
                source: code + "\n",
                arguments: ["-fsyntax-only", "-std=\(cppStandard)", "-x", "c++", "-fmax-errors=10", "snippet.cpp"],
                syntaxErrorStatuses: [1]
            )
        case .javascript:
            let file = JavaScriptSource.isModule(code) ? "snippet.mjs" : "snippet.js"
            return SyntaxCheck(
                language: .javascript,
                fileName: file,
                source: code + "\n",
                arguments: ["--check", file],
                syntaxErrorStatuses: [1]
            )
        case .go:
            let source = GoSource.hasPackageClause(code) ? code : GoSource.asDeclarations(code)
            return goCheck(source)
        }
    }

    /// The second check when the first failed in a way that says the block is a fragment of another shape: Go
    /// statements without a function around them (what `gofmt` itself accepts from standard input).
    static func fallback(after check: SyntaxCheck, code: String, diagnostic: String) -> SyntaxCheck? {
        guard check.language == .go, !GoSource.hasPackageClause(code), diagnostic.contains("expected declaration")
        else { return nil }
        return goCheck(GoSource.asStatements(code))
    }

    private static func goCheck(_ source: String) -> SyntaxCheck {
        SyntaxCheck(
            language: .go,
            fileName: "snippet.go",
            source: source + "\n",
            arguments: ["-l", "-e", "snippet.go"],
            syntaxErrorStatuses: [2]
        )
    }
}
