#if canImport(Glibc)
import Glibc
#endif

/// A heidictl running in the background (a follower, a watcher) with its stdout and stderr in capture files.
/// Tests `defer { ctl.stop() }`, which kills and reaps it.
final class BackgroundCtl {
    let pid: pid_t
    let out: CaptureFile
    let err: CaptureFile

    init(socket: String, _ arguments: [String]) throws {
        out = try CaptureFile()
        err = try CaptureFile()
        pid = try Processes.spawn(
            [Binaries.heidictl, "--socket", socket] + arguments,
            environment: TestEnvironment.make(),
            stdout: out.fd,
            stderr: err.fd
        )
    }

    var stdoutBytes: [UInt8] { out.contents() }
    var stdout: String { String(decoding: out.contents(), as: UTF8.self) }
    var stderr: String { String(decoding: err.contents(), as: UTF8.self) }

    /// Its exit code once it ends within `timeout` seconds; nil while it still runs.
    func exit(within timeout: Double) async -> Int32? { await Processes.wait(pid, timeout: timeout) }

    func stop() {
        kill(pid, SIGKILL)
        _ = Processes.waitBlocking(pid, timeout: 5)
        out.close()
        err.close()
    }
}

extension Session {
    /// Starts `heidictl --socket <socket> ARGS...` in the background.
    func background(_ arguments: String...) throws -> BackgroundCtl { try BackgroundCtl(socket: socket, arguments) }
}
