#if canImport(Glibc)
import Glibc
#endif
import HeidiCore
import Testing
@testable import HeidiValidation

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
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func read(_ path: String) -> String? {
        (try? FileSystem.read(path)).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// A fresh directory under /tmp for one test; `remove()` when done.
struct TestDirectory {
    let path: String

    init(_ label: String) {
        var template = Array("/tmp/heidi-validation-test-\(label)-XXXXXX".utf8CString)
        _ = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes an executable `#!/bin/sh` script: a fake toolchain.
    func script(_ name: String, _ body: String) -> String {
        let file = path + "/" + name
        try! FileSystem.writeAtomically(file, Array(("#!/bin/sh\n" + body + "\n").utf8), mode: 0o755)
        return file
    }

    var entries: [String] { Files.names(in: path) }

    func remove() { ScratchDirectory(path: path).remove() }
}

/// Present and not a zombie.
func isAlive(_ pid: Int32) -> Bool {
    guard let stat = Files.read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(after: close)...].trimmed().first
    return state != nil && state != "Z" && state != "X"
}

/// Waits up to `seconds` for a pid file written by a fake toolchain.
func readPid(_ path: String, waitingUpTo seconds: Double = 10) async -> Int32? {
    let deadline = MonotonicClock.nanoseconds() + UInt64(seconds * 1e9)
    while MonotonicClock.nanoseconds() < deadline {
        if let text = Files.read(path), let pid = Int32(text.trimmed()) { return pid }
        try? await Task.sleep(nanoseconds: 10_000_000)
    }
    return nil
}

/// A validator with the real toolchains; records a failure naming the Debian package for every missing one, so
/// the toolchain tests fail (never skip) on a machine without them.
func realToolchainValidator(_ configuration: ValidationConfiguration = ValidationConfiguration(),
                            sourceLocation: SourceLocation = #_sourceLocation) -> CodeValidator {
    let validator = CodeValidator(configuration: configuration)
    for language in CodeLanguage.allCases where validator.toolchainPath(for: language) == nil {
        Issue.record("""
            \(language.defaultToolchain) (the \(language.rawValue) toolchain) was not found on PATH: \
            install it with `apt-get install -y \(language.debianPackage)`
            """, sourceLocation: sourceLocation)
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
