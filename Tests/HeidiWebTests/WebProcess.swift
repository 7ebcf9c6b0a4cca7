import HeidiCore
import HeidiTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The built heidi-web and heidid as real processes, for the command-line and end-to-end tests.
enum WebProcess {
    static var heidiWeb: String { Binaries.directory + "/heidi-web" }

    /// Runs to completion; the exit status and what it wrote on stderr.
    static func run(
        _ arguments: [String],
        environment: [String: String] = [:]
    ) throws -> (status: Int32, stderr: String) {
        let directory = Scratch.directory("web-run")
        let errPath = directory + "/stderr"
        let err = open(errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { close(err) }
        let pid = try TestSpawn.spawn([heidiWeb] + arguments, environment: environment, stdout: err, stderr: err)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = String(decoding: (try? FileSystem.read(errPath)) ?? [], as: UTF8.self)
        return ((status >> 8) & 0xff, text)
    }

    /// Starts a long-running process with its output in `log`.
    static func start(_ argv: [String], environment: [String: String], log: String) throws -> pid_t {
        let fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        defer { close(fd) }
        return try TestSpawn.spawn(argv, environment: environment, stdout: fd, stderr: fd)
    }

    static func stop(_ pid: pid_t, signal: Int32 = SIGTERM) {
        kill(pid, signal)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}
