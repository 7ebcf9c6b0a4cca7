import HeidiCore
import HeidiTestSupport
import Testing

@testable import HeidiValidation

#if canImport(Glibc)
import Glibc
#endif

/// Tests/HeidiValidationTests/Corpus, read from the source tree.
enum Corpus {
    static let root = FileSystem.dirname(#filePath) + "/Corpus"

    /// The snippets of one corpus directory (`python`, `shell`, `unknown`, …), sorted by name.
    static func snippets(_ directory: String) -> [(name: String, text: String)] {
        let path = root + "/" + directory
        return Files.names(in: path).map { name in
            (name, (try? FileSystem.read(path + "/" + name)).map { String(decoding: $0, as: UTF8.self) } ?? "")
        }
    }

    /// Every snippet of the four checked languages, with its language.
    static var code: [(language: CodeLanguage, name: String, text: String)] {
        CodeLanguage.allCases.flatMap { language in snippets(language.rawValue).map { (language, $0.name, $0.text) } }
    }
}

enum Files {
    /// The entries of a directory, sorted, without `.` and `..`.
    static func names(in path: String) -> [String] {
        ((try? FileSystem.entries(of: path)) ?? []).sorted()
    }

    static func read(_ path: String) -> String? {
        (try? FileSystem.read(path)).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// A fresh directory under /tmp for one test; `remove()` when done.
struct TestDirectory {
    let path: String

    init(_ label: String) {
        path = Scratch.directory("heidi-validation-test-\(label)")
    }

    /// Writes an executable `#!/bin/sh` script: a fake toolchain.
    func script(_ name: String, _ body: String) -> String {
        let file = path + "/" + name
        try! FileSystem.writeAtomically(file, Array(("#!/bin/sh\n" + body + "\n").utf8), mode: 0o755)
        return file
    }

    var entries: [String] { Files.names(in: path) }

    func remove() { FileSystem.removeTree(path) }
}

/// Present and not a zombie.
func isAlive(_ pid: Int32) -> Bool {
    guard let stat = Files.read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(after: close)...].trimmed().first
    return state != nil && state != "Z" && state != "X"
}

/// A validator with the real toolchains; records a failure naming the Debian package for every missing one, so
/// the toolchain tests fail (never skip) on a machine without them.
func realToolchainValidator(
    _ configuration: ValidationConfiguration = ValidationConfiguration(),
    sourceLocation: SourceLocation = #_sourceLocation
) -> CodeValidator {
    let validator = CodeValidator(configuration: configuration)
    for language in CodeLanguage.allCases where validator.toolchainPath(for: language) == nil {
        Issue.record(
            """
            \(language.defaultToolchain) (the \(language.rawValue) toolchain) was not found on PATH: \
            install it with `apt-get install -y \(language.debianPackage)`
            """,
            sourceLocation: sourceLocation
        )
    }
    return validator
}

/// `text` as one fenced block with `tag`.
func fenced(_ code: String, tag: String = "") -> String { "```\(tag)\n\(code)\n```\n" }

extension ValidationReport {
    /// A one-line summary for failure messages.
    var summary: String {
        let parts = blocks.map { "\($0.language)/\($0.languageSource) \($0.reason ?? "ok") \($0.diagnostic ?? "")" }
        return "passed=\(passed) reason=\(rejectionReason ?? "-") blocks=[\(parts.joined(separator: "; "))]"
    }
}
