import HeidiCore
import HeidiTestSupport
import Synchronization

@testable import HeidiCollect

#if canImport(Glibc)
import Glibc
#endif

/// A private temporary directory, removed when the value goes away.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws { path = Scratch.directory("heidi-collect-test") }

    deinit { FileSystem.removeTree(path) }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ text: String, mode: mode_t = 0o644) throws -> String {
        let target = file(name)
        try FileSystem.writeAtomically(target, Array(text.utf8), mode: mode)
        chmod(target, mode)
        return target
    }

    /// Names in the directory (hidden ones included).
    var entries: [String] { ((try? FileSystem.entries(of: path)) ?? []).sorted() }
}

enum Fixtures {
    /// The repository's shipped templates (contrib/collect/templates), found from this source file.
    static let templatesDirectory: String = {
        var directory = FileSystem.dirname(#filePath)
        for _ in 0..<3 { directory = FileSystem.dirname(directory) }
        return directory + "/contrib/collect/templates"
    }()

    static func tasks(_ count: Int, language: String = "python") -> [PromptTask] {
        (0..<count).map { index in
            PromptTask(
                index: index,
                id: PromptTask.recordID(round: 1, index: index),
                instruction: "Write function number \(index).",
                input: "def f\(index)():",
                language: language,
                taskType: "code_completion",
                system: PromptTask.defaultSystem(language: language),
                topic: "f\(index)"
            )
        }
    }

    /// A JSONL prompt file with `count` prompts.
    static func promptFile(_ count: Int, in directory: TemporaryDirectory) throws -> String {
        let languages = ["python", "cpp", "javascript", "go"]
        let lines = (0..<count).map { index in
            #"{"instruction":"Implement helper \#(index).","input":"","language":"\#(languages[index % 4])","task_type":"code_completion"}"#
        }
        return try directory.write("prompts.jsonl", lines.joined(separator: "\n") + "\n")
    }

    /// Parses every line of a JSONL file (failing on any invalid line).
    static func records(_ path: String) throws -> [JSONValue] {
        let bytes = try FileSystem.read(path)
        guard bytes.last == UInt8(ascii: "\n") || bytes.isEmpty else {
            throw HarnessError("\(path) does not end with a newline")
        }
        return try bytes.split(separator: UInt8(ascii: "\n")).map { try StrictJSONParser.parse($0) }
    }

    static func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}

/// A log sink that keeps lines for inspection.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    var text: String { all.joined(separator: "\n") }
    var sink: @Sendable (String) -> Void { { line in self.lines.withLock { $0.append(line) } } }
}

/// Accepts exactly the mock provider's valid code blocks, so tests can check rejections without toolchains.
struct MockAwareValidator: SampleValidator {
    var name: String { "mock-aware" }

    func validate(_ text: String, expectedLanguage: String?) async -> SampleVerdict {
        let language = expectedLanguage ?? "python"
        guard let fence = text.firstRange(of: "```\(language)\n"),
            let end = text[fence.upperBound...].firstRange(of: "\n```")
        else {
            return .rejected("no_code_block")
        }
        let code = String(text[fence.upperBound..<end.lowerBound])
        // Every mock answer names its function in backticks in its first sentence.
        let parts = text.split(separator: "`", omittingEmptySubsequences: false)
        guard parts.count > 2 else { return .rejected("no_name") }
        let name = String(parts[1])
        let valid = MockAnswers.validCode(language).map { $0.replacing("NAME", with: name) }
        return valid.contains(code)
            ? .accepted(languages: [language]) : .rejected("syntax_error_\(language)", languages: [language])
    }
}
