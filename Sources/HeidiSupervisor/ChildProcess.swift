#if canImport(Glibc)
import Glibc
#endif
import CHeidiShim
import HeidiCore

/// What to run for a stage: argv, the complete environment, and the working directory.
public struct LaunchSpec: Sendable, Equatable {
    public var argv: [String]
    public var environment: [String: String]
    public var workingDirectory: String?

    public init(argv: [String], environment: [String: String], workingDirectory: String?) {
        self.argv = argv
        self.environment = environment
        self.workingDirectory = workingDirectory
    }
}

/// A spawned child: the leader of its own session and process group, with stdout/stderr pipes and a pidfd.
///
/// Spawned with `posix_spawn` (never `fork` in a threaded process); exit is observed through the pidfd becoming
/// readable, then reaped with `wait4` for the exit status and resource usage. No thread waits, nothing polls.
public final class ChildProcess: Sendable {
    public let pid: Int32
    /// The process group (= session) id: equal to `pid`.
    public var pgid: Int32 { pid }
    public let startTicks: UInt64
    let stdoutFD: Int32
    let stderrFD: Int32
    private let pidfd: Int32

    /// Spawns `spec`. The caller owns the returned pipes' read ends through `OutputCapture`.
    public static func spawn(_ spec: LaunchSpec) throws(SpawnError) -> ChildProcess {
        guard let executable = spec.argv.first else {
            throw SpawnError(executable: "(empty command)", errno: EINVAL, detail: "empty argv")
        }
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        guard heidi_pipe_cloexec(&out) == 0 else {
            throw SpawnError(executable: executable, errno: errno, detail: "pipe: \(errnoDescription(errno))")
        }
        guard heidi_pipe_cloexec(&err) == 0 else {
            let code = errno
            close(out[0]); close(out[1])
            throw SpawnError(executable: executable, errno: code, detail: "pipe: \(errnoDescription(code))")
        }
        var pid: pid_t = 0
        let envp = spec.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let rc = withCStrings(spec.argv) { argv in
            withCStrings(envp) { env in
                heidi_spawn(executable, argv, env, spec.workingDirectory, out[1], err[1], &pid)
            }
        }
        close(out[1])
        close(err[1])
        guard rc == 0 else {
            close(out[0]); close(err[0])
            var detail = errnoDescription(rc)
            if let cwd = spec.workingDirectory, !FileSystem.isDirectory(cwd) { detail += " (working directory \(cwd) does not exist)" }
            throw SpawnError(executable: executable, errno: rc, detail: detail)
        }
        let pidfd = heidi_pidfd_open(pid)
        let ticks = ProcessTable.info(pid)?.startTicks ?? 0
        return ChildProcess(pid: pid, startTicks: ticks, stdoutFD: out[0], stderrFD: err[0], pidfd: pidfd)
    }

    private init(pid: Int32, startTicks: UInt64, stdoutFD: Int32, stderrFD: Int32, pidfd: Int32) {
        self.pid = pid
        self.startTicks = startTicks
        self.stdoutFD = stdoutFD
        self.stderrFD = stderrFD
        self.pidfd = pidfd
    }

    /// Calls `handler` once, from a waiter thread, when the child has exited. The child is left a zombie (not
    /// reaped), so its pid and process-group id stay reserved while the rest of the tree is cleaned up; then call
    /// `reap()`. The thread sleeps in poll(2) on the pidfd: no signal handler, no polling loop.
    func onExit(_ handler: @escaping @Sendable () -> Void) {
        let pid = self.pid
        let pidfd = self.pidfd
        startThread {
            if pidfd >= 0 {
                var fds = [pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)]
                while heidi_child_exited_nowait(pid) == 0 {
                    if poll(&fds, 1, -1) < 0 && errno != EINTR { break }
                }
                close(pidfd)
            } else {
                // pidfd_open unavailable (kernel < 5.3): block in waitid without reaping.
                var info = siginfo_t()
                while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
            }
            handler()
        }
    }

    /// Reaps the exited child with `wait4`, returning its status and resource usage.
    func reap() -> ExitInfo {
        var status: Int32 = 0
        var usage = rusage()
        while true {
            let rc = wait4(pid, &status, 0, &usage)
            if rc == pid { return ExitInfo(status: status, usage: usage) }
            if rc < 0 && errno == EINTR { continue }
            return ExitInfo(exitCode: nil, signal: nil)  // already reaped elsewhere
        }
    }
}

/// Runs `body` with a NULL-terminated C array of C strings.
func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}
