import HeidiCore
import HeidiSystemd
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The journald seams that need no running journald: field names, stderr detection, priorities.
struct JournaldTests {
    @Test(
        "sanitize makes valid journald field names",
        arguments: [
            ("run_id", "RUN_ID"),
            ("stage", "STAGE"),
            ("child.pid", "CHILD_PID"),
            ("x-request-id", "X_REQUEST_ID"),
            ("ROUND2", "ROUND2"),
            ("_private", "PRIVATE"),
            ("__a_b", "A_B"),
            ("9lives", "9LIVES"),
            ("", "FIELD"),
            ("___", "FIELD"),
            ("ü", "FIELD"),
            ("größe", "GR_SSE"),
            (String(repeating: "a", count: 100), String(repeating: "A", count: 64)),
        ]
    )
    func sanitize(name: String, expected: String) {
        #expect(JournaldSender.sanitize(name) == expected)
    }

    @Test("every sanitized name is [A-Z0-9_], 1 to 64 characters, without a leading underscore")
    func sanitizeInvariants() {
        for name in ["a b", "tab\there", "émoji🎉key", "-", "MIXED_case.1", String(repeating: "_x", count: 50)] {
            let field = JournaldSender.sanitize(name)
            #expect((1...64).contains(field.count), "\(name) -> \(field)")
            #expect(!field.hasPrefix("_"), "\(name) -> \(field)")
            let valid = field.unicodeScalars.allSatisfy {
                ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
            }
            #expect(valid, "\(name) -> \(field)")
        }
    }

    /// `JOURNAL_STREAM` as systemd would set it for this process's real stderr.
    static func stderrDeviceAndInode() throws -> (UInt64, UInt64) {
        var st = stat()
        guard fstat(2, &st) == 0 else { throw FileSystemError(path: "stderr", operation: "fstat", errno: errno) }
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    @Test("stderrIsJournal is true only when JOURNAL_STREAM names stderr's device and inode")
    func stderrIsJournal() throws {
        let (device, inode) = try Self.stderrDeviceAndInode()
        #expect(JournaldSender.stderrIsJournal(environment: ["JOURNAL_STREAM": "\(device):\(inode)"]))
        #expect(!JournaldSender.stderrIsJournal(environment: [:]))
        #expect(!JournaldSender.stderrIsJournal(environment: ["JOURNAL_STREAM": "\(device):\(inode + 1)"]))
        #expect(!JournaldSender.stderrIsJournal(environment: ["JOURNAL_STREAM": "\(device + 1):\(inode)"]))
        #expect(!JournaldSender.stderrIsJournal(environment: ["JOURNAL_STREAM": ""]))
        #expect(!JournaldSender.stderrIsJournal(environment: ["JOURNAL_STREAM": "garbage"]))
        #expect(!JournaldSender.stderrIsJournal(environment: ["JOURNAL_STREAM": "\(device):\(inode):0"]))
        #expect(!JournaldSender.stderrIsJournal(environment: ["JOURNAL_STREAM": "\(device)-\(inode)"]))
    }

    @Test("log levels map to syslog priorities")
    func priorities() {
        let expected: [Logger.Level: Int] = [
            .trace: 7, .debug: 7, .info: 6, .notice: 5, .warning: 4, .error: 3, .critical: 2,
        ]
        #expect(Set(expected.keys) == Set(Logger.Level.allCases))
        for (level, priority) in expected {
            #expect(JournaldLogHandler.priority(level) == priority, "\(level)")
        }
    }
}
