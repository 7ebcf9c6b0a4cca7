/// The mock teacher's answers: a sentence of explanation and one fenced code block per language, valid or
/// deliberately broken (a missing colon, semicolon or brace: what `py_compile`, `g++ -fsyntax-only`, `node --check`
/// and `gofmt -e` reject).
enum MockAnswers {
    static let fallbackNames = [
        "calculate_sum", "find_max", "fibonacci", "merge_sorted", "count_words", "is_palindrome",
    ]

    static func answer(for task: PromptTask, invalid: Bool, random: inout SeededRandom) -> String {
        let name = identifier(task.topic ?? fallbackNames[Int(random.next() % UInt64(fallbackNames.count))])
        let bank = invalid ? invalidCode(task.language) : validCode(task.language)
        let code = substitute(bank[Int(random.next() % UInt64(bank.count))], name: name)
        let openings = [
            "Here is a \(Languages.displayName(task.language)) solution for `\(name)` (\(task.taskType)).",
            "The following \(Languages.displayName(task.language)) code implements `\(name)`.",
            "Below is a complete implementation of `\(name)`, with the edge cases handled.",
        ]
        let closing = [
            "It runs in linear time and handles empty input.",
            "Each step is small enough to test on its own.",
            "The function has no side effects, so it is easy to reuse.",
        ]
        let opening = openings[Int(random.next() % UInt64(openings.count))]
        let end = closing[Int(random.next() % UInt64(closing.count))]
        return "\(opening)\n\n```\(task.language)\n\(code)\n```\n\n\(end)"
    }

    /// `template` with every `NAME` replaced by `name` (on bytes: the mock answers thousands of requests a second).
    static func substitute(_ template: String, name: String) -> String {
        var out: [UInt8] = []
        var bytes = template.utf8[...]
        let marker = Array("NAME".utf8)
        out.reserveCapacity(template.utf8.count + 4 * name.utf8.count)
        while let first = bytes.first {
            if first == marker[0], bytes.starts(with: marker) {
                out.append(contentsOf: name.utf8)
                bytes = bytes.dropFirst(marker.count)
            } else {
                out.append(first)
                bytes = bytes.dropFirst()
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A name usable as an identifier in every language here.
    static func identifier(_ text: String) -> String {
        let cleaned = String(text.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
        guard let first = cleaned.first, !first.isNumber else { return "f_" + cleaned }
        return cleaned
    }

    static func validCode(_ language: String) -> [String] {
        switch language {
        case "python":
            return [
                "def NAME(values):\n    \"\"\"Return the sum of values.\"\"\"\n    total = 0\n    for value in values:\n        total += value\n    return total",
                "def NAME(values):\n    if not values:\n        return None\n    best = values[0]\n    for value in values[1:]:\n        if value > best:\n            best = value\n    return best",
                "from typing import List\n\n\ndef NAME(n: int) -> List[int]:\n    a, b = 0, 1\n    result = []\n    for _ in range(n):\n        result.append(a)\n        a, b = b, a + b\n    return result",
            ]
        case "cpp":
            return [
                "#include <vector>\n\nint NAME(const std::vector<int>& values) {\n    int total = 0;\n    for (int value : values) total += value;\n    return total;\n}",
                "#include <algorithm>\n#include <vector>\n\nint NAME(const std::vector<int>& values) {\n    if (values.empty()) return 0;\n    return *std::max_element(values.begin(), values.end());\n}",
                "#include <string>\n\nbool NAME(const std::string& text) {\n    std::size_t i = 0, j = text.size();\n    while (i + 1 < j) {\n        if (text[i++] != text[--j]) return false;\n    }\n    return true;\n}",
            ]
        case "javascript":
            return [
                "function NAME(values) {\n  let total = 0;\n  for (const value of values) {\n    total += value;\n  }\n  return total;\n}\n\nmodule.exports = { NAME };",
                "const NAME = (values) => values.reduce((best, value) => (value > best ? value : best), -Infinity);\n\nmodule.exports = { NAME };",
                "function NAME(n) {\n  const result = [];\n  let [a, b] = [0, 1];\n  for (let i = 0; i < n; i += 1) {\n    result.push(a);\n    [a, b] = [b, a + b];\n  }\n  return result;\n}",
            ]
        case "go":
            return [
                "package main\n\nfunc NAME(values []int) int {\n\ttotal := 0\n\tfor _, value := range values {\n\t\ttotal += value\n\t}\n\treturn total\n}",
                "package main\n\nfunc NAME(values []int) int {\n\tif len(values) == 0 {\n\t\treturn 0\n\t}\n\tbest := values[0]\n\tfor _, value := range values[1:] {\n\t\tif value > best {\n\t\t\tbest = value\n\t\t}\n\t}\n\treturn best\n}",
                "package main\n\nimport \"strings\"\n\nfunc NAME(text string) int {\n\treturn len(strings.Fields(text))\n}",
            ]
        default:
            return ["NAME: a \(language) solution would go here."]
        }
    }

    static func invalidCode(_ language: String) -> [String] {
        switch language {
        case "python":
            return [
                "def NAME(values)\n    total = 0\n    for value in values:\n        total += value\n    return total",
                "def NAME(values):\n    return [value for value in values if value > 0",
            ]
        case "cpp":
            return [
                "#include <vector>\n\nint NAME(const std::vector<int>& values) {\n    int total = 0\n    for (int value : values) total += value;\n    return total;\n}",
                "int NAME(int n) {\n    if (n < 2) return n;\n    return NAME(n - 1) + NAME(n - 2);\n",
            ]
        case "javascript":
            return [
                "function NAME(values) {\n  let total = 0;\n  for (const value of values) {\n    total += value;\n  \n  return total;\n",
                "const NAME = (values) => { values.map((v) => v * 2) ;; ) };",
            ]
        case "go":
            return [
                "package main\n\nfunc NAME(values []int) int {\n\ttotal := 0\n\tfor _, value := range values {\n\t\ttotal += value\n\treturn total\n}",
                "package main\n\nfunc NAME(text string int {\n\treturn len(text)\n}",
            ]
        default:
            return ["NAME: {{{ broken \(language)"]
        }
    }
}
