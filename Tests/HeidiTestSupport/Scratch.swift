import HeidiCore

// Shared by every test target: where tests put their files.
#if canImport(Glibc)
import Glibc
#endif

/// Scratch space of one test process: `/tmp/heidi-tests-<pid>`, mode 0700, removed when the process exits, so a
/// run of the suite leaves nothing in /tmp. Roots left by earlier runs that were killed are removed when the next
/// run starts.
public enum Scratch {
    private static let parent = "/tmp"
    private static let prefix = "heidi-tests-"

    /// The root directory, created on first use.
    public static let root: String = {
        removeRootsOfDeadRuns()
        let path = "\(parent)/\(prefix)\(getpid())"
        FileSystem.removeTree(path)  // a pid reused from a killed run
        guard mkdir(path, 0o700) == 0 else {
            fatalError("cannot create the test scratch directory \(path): \(errnoDescription(errno))")
        }
        atexit { FileSystem.removeTree(Scratch.root) }
        return path
    }()

    /// A fresh directory `<root>/<label>.XXXXXX` (mode 0700).
    public static func directory(_ label: String) -> String {
        var template = Array("\(root)/\(label).XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            fatalError("mkdtemp under \(root): \(errnoDescription(errno))")
        }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A path no other test uses, `<root>/<random>-<name>` (nothing is created).
    public static func path(_ name: String) -> String {
        "\(root)/\(String(UInt64.random(in: 0...UInt64.max), radix: 36))-\(name)"
    }

    private static func removeRootsOfDeadRuns() {
        for name in (try? FileSystem.entries(of: parent)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = pid_t(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { FileSystem.removeTree("\(parent)/\(name)") }
        }
    }
}
