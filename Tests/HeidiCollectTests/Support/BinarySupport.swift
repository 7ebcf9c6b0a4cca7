import HeidiCore
@_exported import HeidiTestSupport

// Running the built heidi-collect binary (found by HeidiTestSupport's `Binaries`): spawning it with captured
// output, signalling and reaping it.
#if canImport(Glibc)
import Glibc
#endif

/// What a finished run printed and how it ended (`status`: the exit code, or 128 + signal).
struct RunResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// A spawned heidi-collect process.
final class CollectProcess {
    let pid: pid_t
    private let stdoutPath: String
    private let stderrPath: String
    private var finished: Int32?

    /// Starts heidi-collect with `arguments`; the environment is the test's own without HEIDI_*/OPENAI_API_KEY, plus `environment`.
    init(_ arguments: [String], environment: [String: String] = [:], directory: String) throws {
        stdoutPath = directory + "/.stdout-\(UInt32.random(in: 0...UInt32.max))"
        stderrPath = directory + "/.stderr-\(UInt32.random(in: 0...UInt32.max))"
        let out = open(stdoutPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let err = open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard out >= 0, err >= 0 else { throw HarnessError("cannot create capture files in \(directory)") }
        defer {
            close(out)
            close(err)
        }
        let inherited = ProcessEnvironment.current().filter {
            !$0.key.hasPrefix("HEIDI_") && $0.key != "OPENAI_API_KEY"
        }
        let env = inherited.merging(environment) { _, new in new }
        let pid = try TestSpawn.spawn([Binaries.heidiCollect] + arguments, environment: env, stdout: out, stderr: err)
        self.pid = pid
    }

    func signal(_ signal: Int32) { if finished == nil { kill(pid, signal) } }

    /// Waits up to `timeout` seconds; kills the process (and fails) if it is still running then.
    func wait(timeout: Double = 60) async throws -> RunResult {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while finished == nil {
            var status: Int32 = 0
            let rc = waitpid(pid, &status, WNOHANG)
            if rc == pid {
                let signal = status & 0x7f
                finished = signal == 0 ? (status >> 8) & 0xff : 128 + signal
                break
            }
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw HarnessError("heidi-collect did not finish within \(timeout)s; stderr: \(read(stderrPath))")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        defer {
            unlink(stdoutPath)
            unlink(stderrPath)
        }
        return RunResult(status: finished ?? -1, stdout: read(stdoutPath), stderr: read(stderrPath))
    }

    /// stderr so far.
    var stderrSoFar: String { read(stderrPath) }

    private func read(_ path: String) -> String {
        (try? FileSystem.read(path)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// Runs to completion.
    static func run(
        _ arguments: [String],
        environment: [String: String] = [:],
        directory: String,
        timeout: Double = 60
    )
        async throws -> RunResult
    {
        try await CollectProcess(arguments, environment: environment, directory: directory).wait(timeout: timeout)
    }
}
