/// What the info string of a fence (the text after the opening ```` ``` ````) says about the block's content.
public enum LanguageTag: Equatable, Sendable {
    /// No info string: the content decides.
    case untagged
    /// A language heidi checks, whatever alias named it (`py`, `c++`, `node`, `golang`, …).
    case supported(CodeLanguage)
    /// A programming language heidi has no checker for (`rust`, `java`, `typescript`, …), by a normalized name.
    case unsupported(String)
    /// Not a program: shell sessions, program output, data and markup (`bash`, `text`, `json`, `diff`, …).
    case auxiliary(String)
    /// A word heidi does not know; like `untagged`, the content decides.
    case unrecognized(String)

    /// Classifies an info string such as `python`, ` c++ `, `{.js}`, `language-go`, `python title="x.py"`,
    /// `python:main.py` or `js{1,3}`. Case does not matter.
    public init(infoString: String) {
        let word = LanguageTag.normalizedWord(infoString)
        if word.isEmpty {
            self = .untagged
        } else if let language = LanguageTag.supportedAliases[word] {
            self = .supported(language)
        } else if let name = LanguageTag.unsupportedAliases[word] {
            self = .unsupported(name)
        } else if LanguageTag.auxiliaryNames.contains(word) {
            self = .auxiliary(word)
        } else {
            self = .unrecognized(word)
        }
    }

    /// The language word of an info string: its first word, lowercased, without Pandoc braces and dots, a
    /// `language-` prefix, or a `:file`, `,attribute` or `{lines}` suffix.
    public static func normalizedWord(_ infoString: String) -> String {
        var word = Substring(infoString.lowercased())
        while let first = word.first, first == " " || first == "\t" || first == "{" || first == "." {
            word = word.dropFirst()
        }
        if let end = word.firstIndex(where: {
            $0 == " " || $0 == "\t" || $0 == "}" || $0 == "{" || $0 == "," || $0 == ":" || $0 == "="
        }) {
            word = word[..<end]
        }
        if word.hasPrefix("language-") { word = word.dropFirst("language-".count) }
        if word.hasPrefix("lang-") { word = word.dropFirst("lang-".count) }
        return String(word)
    }

    /// The canonical name of the tag's language (`python`, `rust`, `bash`), or nil when untagged.
    public var name: String? {
        switch self {
        case .untagged: return nil
        case .supported(let language): return language.rawValue
        case .unsupported(let name), .auxiliary(let name), .unrecognized(let name): return name
        }
    }

    static let supportedAliases: [String: CodeLanguage] = [
        "python": .python, "py": .python, "python3": .python, "py3": .python, "pyw": .python,
        "cpp": .cpp, "c++": .cpp, "cxx": .cpp, "cc": .cpp, "hpp": .cpp, "hxx": .cpp, "h++": .cpp, "cplusplus": .cpp,
        "c++11": .cpp, "c++14": .cpp, "c++17": .cpp, "c++20": .cpp, "c++23": .cpp, "cpp11": .cpp, "cpp14": .cpp,
        "cpp17": .cpp, "cpp20": .cpp,
        "javascript": .javascript, "js": .javascript, "node": .javascript, "nodejs": .javascript, "mjs": .javascript,
        "cjs": .javascript, "es6": .javascript, "ecmascript": .javascript,
        "go": .go, "golang": .go,
    ]

    static let unsupportedAliases: [String: String] = [
        "c": "c", "h": "c", "objc": "objective-c", "objective-c": "objective-c", "objectivec": "objective-c",
        "java": "java", "kotlin": "kotlin", "kt": "kotlin", "scala": "scala", "groovy": "groovy",
        "rust": "rust", "rs": "rust", "ruby": "ruby", "rb": "ruby", "php": "php", "perl": "perl", "pl": "perl",
        "swift": "swift", "csharp": "csharp", "cs": "csharp", "c#": "csharp", "fsharp": "fsharp", "f#": "fsharp",
        "typescript": "typescript", "ts": "typescript", "tsx": "typescript", "jsx": "jsx", "vue": "vue",
        "svelte": "svelte",
        "haskell": "haskell", "hs": "haskell", "lua": "lua", "r": "r", "julia": "julia", "jl": "julia", "dart": "dart",
        "elixir": "elixir", "ex": "elixir", "erlang": "erlang", "clojure": "clojure", "clj": "clojure", "lisp": "lisp",
        "scheme": "scheme", "racket": "racket", "ocaml": "ocaml", "ml": "ocaml", "zig": "zig", "nim": "nim",
        "vb": "visual-basic", "vbnet": "visual-basic", "matlab": "matlab", "octave": "octave", "fortran": "fortran",
        "pascal": "pascal", "delphi": "pascal", "asm": "assembly", "assembly": "assembly", "nasm": "assembly",
        "x86asm": "assembly", "solidity": "solidity", "sol": "solidity", "cuda": "cuda", "cu": "cuda",
        "python2": "python2", "py2": "python2", "cython": "cython", "pyx": "cython", "coffeescript": "coffeescript",
        "coffee": "coffeescript", "elm": "elm", "crystal": "crystal", "d": "d", "v": "v", "verilog": "verilog",
        "vhdl": "vhdl", "prolog": "prolog", "cobol": "cobol", "ada": "ada", "apex": "apex", "wasm": "webassembly",
    ]

    static let auxiliaryNames: Set<String> = [
        "text", "txt", "plaintext", "plain", "none", "nohighlight", "no-highlight", "output", "out", "result", "stdout",
        "stderr", "console", "terminal", "shell", "sh", "bash", "zsh", "fish", "ksh", "csh", "tcsh", "shell-session",
        "shellsession", "bash-session", "sh-session", "powershell", "ps", "ps1", "pwsh", "cmd", "bat", "batch", "dos",
        "json", "jsonc", "json5", "jsonl", "ndjson", "yaml", "yml", "toml", "ini", "cfg", "conf", "env", "dotenv",
        "properties", "xml", "html", "htm", "xhtml", "css", "scss", "sass", "less", "svg", "markdown", "md", "mdx",
        "rst", "tex", "latex", "csv", "tsv", "diff", "patch", "udiff", "log", "sql", "mysql", "postgresql", "postgres",
        "psql", "plsql", "sqlite", "graphql", "gql", "dockerfile", "docker", "containerfile", "makefile", "make",
        "cmake",
        "nginx", "apache", "proto", "protobuf", "regex", "regexp", "http", "mermaid", "dot", "graphviz", "pycon",
        "pytb", "python-traceback", "traceback", "jinja", "jinja2", "django", "handlebars", "hbs", "gitignore", "ascii",
        "ansi", "math", "tree", "hcl", "terraform", "tf", "nix", "vim", "awk", "sed", "gherkin", "cucumber", "gomod",
        "go-mod", "requirements", "pip", "pip-requirements", "npm", "package.json",
    ]
}
