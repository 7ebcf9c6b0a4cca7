// Shared by the test targets whose fixtures write their pids to files (HeidiSupervisorTests, HeidiValidationTests).
import HeidiCore

/// Pid files written by test fixtures.
public enum PidFile {
    /// Waits up to `seconds` for the pid a fixture wrote to `path` (its first line). Sleeps between looks instead
    /// of blocking: the suites share a cooperative pool of one thread per core, and a blocked thread starves every
    /// test running beside it.
    /// It looks once more after the deadline: a sleep that a busy pool let overrun it still gets its answer.
    public static func read(_ path: String, waitingUpTo seconds: Double = 10) async -> Int32? {
        let deadline = MonotonicClock.nanoseconds() + UInt64(seconds * 1e9)
        while true {
            let lastLook = MonotonicClock.nanoseconds() >= deadline
            if let bytes = try? FileSystem.read(path),
                let line = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).first,
                let pid = Int32(line.filter { !$0.isWhitespace })
            {
                return pid
            }
            if lastLook { return nil }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
    }
}
