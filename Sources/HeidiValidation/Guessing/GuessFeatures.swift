/// One clue for the language guesser: a test on a trimmed, non-comment line and the weight it adds to a category.
/// A clue counts at most `LineFeature.maximumCount` times per block, so one repeated construct cannot decide alone.
struct LineFeature: Sendable {
    static let maximumCount = 3

    let category: GuessCategory
    let weight: Double
    let matches: @Sendable (Substring) -> Bool

    init(_ category: GuessCategory, _ weight: Double, _ matches: @escaping @Sendable (Substring) -> Bool) {
        self.category = category
        self.weight = weight
        self.matches = matches
    }
}

/// The guesser's clues, one table per category. Each is a construct that is common in that language and rare or
/// impossible at the start of (or inside) a line of the others. Tuned on Tests/HeidiValidationTests/Corpus.
enum GuessFeatures {
    static let all: [LineFeature] = python + cpp + javascript + go + shell

    static let python: [LineFeature] = [
        LineFeature(.python, 3) { $0.hasPrefix("def ") && ($0.hasSuffix(":") || $0.contains(") ->")) },
        LineFeature(.python, 3) { $0.hasPrefix("async def ") },
        LineFeature(.python, 3) { $0.hasPrefix("class ") && $0.hasSuffix(":") },
        LineFeature(.python, 3) { $0.hasPrefix("from ") && $0.contains(" import ") },
        LineFeature(.python, 1.5) { line in
            line.hasPrefix("import ") && !line.contains(where: { ";\"'({".contains($0) }) && !line.contains(" from ")
        },
        LineFeature(.python, 3) { $0.hasPrefix("elif ") && $0.hasSuffix(":") },
        LineFeature(.python, 2) { $0 == "else:" || $0 == "try:" || $0 == "finally:" },
        LineFeature(.python, 3) { $0.hasPrefix("except") && $0.hasSuffix(":") },
        LineFeature(.python, 2) { line in
            line.hasSuffix(":") && line.startsWithAny(["if ", "for ", "while ", "with ", "async with ", "async for "])
        },
        LineFeature(.python, 2) { $0.contains("self.") || $0.contains("(self") },
        LineFeature(.python, 1.5) { $0.containsWord("None") },
        LineFeature(.python, 1) { $0.containsWord("True") || $0.containsWord("False") },
        LineFeature(.python, 1) { $0.hasPrefix("print(") && !$0.hasSuffix(";") },
        LineFeature(.python, 3) { $0.containsAny(["__name__", "__init__", "__main__"]) },
        LineFeature(.python, 1) { $0.hasPrefix("@") && $0.dropFirst().first?.isLetter == true },
        LineFeature(.python, 1) { $0.containsAny([" not in ", " is not ", " is None", " and ", " or "]) },
        LineFeature(.python, 2) { $0.containsAny(["\"\"\"", "'''"]) },
        LineFeature(.python, 3) { $0.hasPrefix("raise ") },
        LineFeature(.python, 2) { $0 == "pass" || $0.startsWithAny(["nonlocal ", "global "]) },
        LineFeature(.python, 1) { $0.contains("lambda ") && $0.contains(":") },
        LineFeature(.python, 1) { $0.hasFormatStringLiteral },
        LineFeature(.python, 1) {
            $0.containsAny(["range(", ".append(", "isinstance(", "enumerate(", ".items()", ".keys()", "zip("])
        },
        LineFeature(.python, 1) { $0.isPlainAssignment },
        LineFeature(.python, 0.5) { line in
            line.hasSuffix(":") && !line.contains("{")
                && !line.startsWithAny(["case ", "default:", "public:", "private:", "protected:"])
        },
    ]

    static let cpp: [LineFeature] = [
        LineFeature(.cpp, 5) { $0.hasPrefix("#include") },
        LineFeature(.cpp, 3) {
            $0.startsWithAny(["#define", "#pragma", "#ifndef", "#ifdef", "#endif", "#if ", "#undef"])
        },
        LineFeature(.cpp, 3) { $0.contains("std::") },
        LineFeature(.cpp, 4) { $0.hasPrefix("using namespace ") },
        LineFeature(.cpp, 3) { ($0.containsAny(["cout", "cerr"]) && $0.contains("<<")) || $0.contains("cin >>") },
        LineFeature(.cpp, 3) { $0.hasPrefix("template") && $0.contains("<") },
        LineFeature(.cpp, 3) { $0.containsWord("nullptr") },
        LineFeature(.cpp, 3) { $0 == "public:" || $0 == "private:" || $0 == "protected:" },
        LineFeature(.cpp, 3) {
            $0.startsWithAny(["constexpr ", "virtual ", "typedef ", "namespace ", "explicit ", "inline "])
        },
        LineFeature(.cpp, 1.5) { $0.startsWithCType },
        LineFeature(.cpp, 3) { $0.hasPrefix("int main(") },
        LineFeature(.cpp, 2) {
            $0.containsAny(["vector<", "map<", "set<", "pair<", "_ptr<", "string&", "const&", "const &"])
        },
        LineFeature(.cpp, 3) { $0.contains("this->") },
        LineFeature(.cpp, 1) { $0.contains("->") && !$0.hasPrefix("def ") && !$0.hasPrefix("async def ") },
        LineFeature(.cpp, 2) { $0.containsAny(["printf(", "scanf(", "malloc(", "sizeof("]) },
        LineFeature(.cpp, 2) {
            $0.startsWithAny(["for (int ", "for (size_t ", "for (auto ", "for (const auto", "for (long "])
        },
        LineFeature(.cpp, 1) { $0 == "};" },
        LineFeature(.cpp, 1) {
            $0.hasPrefix("struct ") || ($0.hasPrefix("class ") && !$0.hasSuffix(":") && !$0.contains(" extends "))
        },
        LineFeature(.cpp, 1) { $0.contains("::") && !$0.contains("std::") },
        LineFeature(.cpp, 0.5) { $0.hasSuffix(";") },
    ]

    static let javascript: [LineFeature] = [
        LineFeature(.javascript, 3) { line in
            line.startsWithAny(["function ", "function*", "async function "])
                || line.containsAny(["function(", "function (", "= function", "async function "])
        },
        LineFeature(.javascript, 2.5) { $0.isJavaScriptDeclaration(keywords: ["const ", "let "]) },
        LineFeature(.javascript, 1.5) { $0.isJavaScriptDeclaration(keywords: ["var "]) },
        LineFeature(.javascript, 2.5) { $0.contains("=>") },
        LineFeature(.javascript, 4) { $0.contains("console.") },
        LineFeature(.javascript, 3) { $0.contains("require(") },
        LineFeature(.javascript, 4) { $0.contains("module.exports") || $0.hasPrefix("exports.") },
        LineFeature(.javascript, 3) { $0.hasPrefix("export ") && !$0.isShellExport },
        LineFeature(.javascript, 4) { line in
            line.hasPrefix("import ")
                && (line.containsAny([" from '", " from \"", "import {", "import * as"])
                    || line.startsWithAny(["import '", "import \""]) && line.hasSuffix(";"))
        },
        LineFeature(.javascript, 3) { $0.containsAny(["===", "!=="]) },
        LineFeature(.javascript, 2) { $0.containsWord("undefined") },
        LineFeature(.javascript, 2.5) {
            $0.containsAny([
                "document.", "window.", "JSON.", "Math.", "Object.", "Array.", "process.", "Promise", "parseInt(",
                "parseFloat(",
            ])
        },
        LineFeature(.javascript, 3) { $0.containsAny(["typeof ", " instanceof "]) },
        LineFeature(.javascript, 2) { $0.containsAny([".then(", ".catch("]) },
        LineFeature(.javascript, 1.5) { line in
            line.containsAny([
                ".forEach(", ".push(", ".filter(", ".reduce(", ".indexOf(", ".slice(", ".splice(", ".includes(",
            ])
                || line.containsJavaScriptLength
        },
        LineFeature(.javascript, 2) { $0.contains("${") && $0.contains("`") },
        LineFeature(.javascript, 1) { $0.contains("this.") },
        LineFeature(.javascript, 1) { $0.containsWord("null") },
        LineFeature(.javascript, 1) { $0.hasPrefix("constructor(") },
        LineFeature(.javascript, 1) { $0.startsWithAny(["} catch (", "catch ("]) },
        LineFeature(.javascript, 1) { $0.hasPrefix("new ") || $0.contains("= new ") },
        LineFeature(.javascript, 0.5) { $0.hasSuffix(";") },
    ]

    static let go: [LineFeature] = [
        LineFeature(.go, 5) { $0.hasPrefix("package ") },
        LineFeature(.go, 3) { $0.hasPrefix("func ") },
        LineFeature(.go, 2) { $0.contains(":=") },
        LineFeature(.go, 4) { $0.contains("fmt.") },
        LineFeature(.go, 4) { $0 == "import (" || $0.hasPrefix("import \"") && !$0.hasSuffix(";") },
        LineFeature(.go, 4) { $0.hasPrefix("type ") && $0.containsAny([" struct", " interface"]) },
        LineFeature(.go, 4) { $0.containsAny(["err != nil", "err == nil"]) },
        LineFeature(.go, 1.5) { $0.containsWord("nil") },
        LineFeature(.go, 2) { $0.containsAny(["chan ", "<-"]) },
        LineFeature(.go, 3) { $0.startsWithAny(["go func", "defer "]) },
        LineFeature(.go, 2) { $0.containsGoSliceType || $0.contains("map[") },
        LineFeature(.go, 2) { $0.containsAny([" range ", ":= range"]) },
        LineFeature(.go, 2) { $0.isGoControlHeader },
        LineFeature(.go, 2) {
            $0.containsAnyWord(["int64", "float64", "uint8", "int32", "uint64", "float32", "rune"])
                || $0.containsAny(["strconv.", "strings.", "errors.New", "os.Exit", "sync."])
        },
        LineFeature(.go, 1) { $0.hasPrefix("var ") && !$0.contains("=") },
    ]

    static let shell: [LineFeature] = [
        LineFeature(.shell, 4) { $0.startsWithAny(["$ ", ">>> "]) },
        LineFeature(.shell, 3) { line in
            line.startsWithAny(shellCommands) && !line.contains(" = ") && !line.hasSuffix(";") && !line.hasSuffix("{")
                && !line.hasSuffix(":")
        },
        LineFeature(.shell, 3) { $0.isShellExport },
    ]

    static let shellCommands = [
        "pip ", "pip3 ", "npm ", "npx ", "yarn ", "pnpm ", "go get ", "go run ", "go build ", "go mod ", "go install ",
        "go test ",
        "python ", "python3 ", "node ", "g++ ", "gcc ", "clang++ ", "clang ", "sudo ", "apt ", "apt-get ", "brew ",
        "cd ",
        "mkdir ", "ls ", "git ", "curl ", "wget ", "chmod ", "./", "echo ", "cat ", "make ", "cmake ", "docker ",
        "conda ",
        "source ", "cargo ", "rm ", "cp ", "mv ", "touch ", "export PATH",
    ]

    /// Categories named by a `#!` line.
    static func shebang(_ line: Substring) -> GuessCategory? {
        guard line.hasPrefix("#!") else { return nil }
        if line.contains("python") { return .python }
        if line.contains("node") { return .javascript }
        if line.containsAny(["bash", "/sh", " sh", "zsh"]) { return .shell }
        return nil
    }
}
