import CHeidiShim
import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// What to run for a stage: argv, the complete environment, the working directory, and what must be set up before
/// the program's first instruction (resource limits, the stage's cgroup), which goes through `ExecHelper`.
public struct LaunchSpec: Sendable, Equatable {
    public var argv: [String]
    public var environment: [String: String]
    public var workingDirectory: String?
    public var rlimits: [ResourceLimit]
    /// A cgroup v2 directory the child joins before exec.
    public var cgroup: String?

    public init(
        argv: [String],
        environment: [String: String],
        workingDirectory: String?,
        rlimits: [ResourceLimit] = [],
        cgroup: String? = nil
    ) {
        self.argv = argv
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.rlimits = rlimits
        self.cgroup = cgroup
    }

    /// Whether the spawn cannot do without the exec helper (every spawn uses it when it is installed).
    var needsHelper: Bool { !rlimits.isEmpty || cgroup != nil }
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
        // Every stage goes through the helper when it is installed: only it can reset the signals posix_spawn
        // leaves ignored (32 and 33). Without it a stage that needs it (rlimits, a cgroup) cannot start.
        var argv = spec.argv
        var file = executable
        let helper = ExecHelper.path
        if spec.needsHelper && helper == nil {
            throw SpawnError(
                executable: executable,
                errno: ENOENT,
                detail: "the stage sets rlimits or runs in a cgroup, which needs the \(ExecHelper.name) helper; "
                    + "it was not found next to the daemon's executable (install it there or set HEIDI_EXEC_HELPER)"
            )
        }
        if let helper {
            argv = ExecHelper.arguments(helper: helper, for: spec)
            file = helper
        }
        let out = try makePipe(for: executable)
        let err: (read: Int32, write: Int32)
        do { err = try makePipe(for: executable) } catch {
            close(out.read)
            close(out.write)
            throw error
        }
        var status: (read: Int32, write: Int32)?
        if helper != nil {
            do { status = try makePipe(for: executable, awayFrom: 3) } catch {
                for fd in [out.read, out.write, err.read, err.write] { close(fd) }
                throw error
            }
        }
        var pid: pid_t = 0
        let envp = spec.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let rc = withCStrings(argv) { argv in
            withCStrings(envp) { env in
                heidi_spawn(file, argv, env, spec.workingDirectory, out.write, err.write, status?.write ?? -1, &pid)
            }
        }
        close(out.write)
        close(err.write)
        if let status { close(status.write) }
        guard rc == 0 else {
            close(out.read)
            close(err.read)
            if let status { close(status.read) }
            var detail = errnoDescription(rc)
            if let cwd = spec.workingDirectory, !FileSystem.isDirectory(cwd) {
                detail += " (working directory \(cwd) does not exist)"
            }
            throw SpawnError(executable: executable, errno: rc, detail: detail)
        }
        if let status {
            // EOF: the helper exec'd the program (the pipe is close-on-exec). Data: it failed and exits 127.
            let report = drain(status.read)
            close(status.read)
            if !report.isEmpty {
                close(out.read)
                close(err.read)
                var code: Int32 = 0
                while waitpid(pid, &code, 0) < 0 && errno == EINTR {}
                let failure = ExecHelper.parseFailure(report)
                throw SpawnError(executable: executable, errno: failure.errno, detail: failure.message)
            }
        }
        let pidfd = heidi_pidfd_open(pid)
        let ticks = ProcessTable.info(pid)?.startTicks ?? 0
        return ChildProcess(pid: pid, startTicks: ticks, stdoutFD: out.read, stderrFD: err.read, pidfd: pidfd)
    }

    /// A close-on-exec pipe; `awayFrom` keeps the write end off a descriptor number the spawn dup2s onto.
    private static func makePipe(
        for executable: String,
        awayFrom reserved: Int32? = nil
    ) throws(SpawnError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard heidi_pipe_cloexec(&fds) == 0 else {
            throw SpawnError(executable: executable, errno: errno, detail: "pipe: \(errnoDescription(errno))")
        }
        if let reserved, fds[1] <= reserved {
            let moved = fcntl(fds[1], F_DUPFD_CLOEXEC, reserved + 1)
            let code = errno
            close(fds[1])
            guard moved >= 0 else {
                close(fds[0])
                throw SpawnError(executable: executable, errno: code, detail: "pipe: \(errnoDescription(code))")
            }
            fds[1] = moved
        }
        return (fds[0], fds[1])
    }

    /// Reads `fd` to end of file.
    private static func drain(_ fd: Int32) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return result }
            result += buffer[0..<n]
        }
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
    ///
    /// `onTimeout` is called once if the child still runs `timeout` seconds from now. The same poll(2) measures it,
    /// because a Dispatch timer (`Task.sleep`) pending for hours makes libdispatch wake up every second, and an idle
    /// daemon with a quiet stage must not wake up at all. Returns false if there is no pidfd (kernel < 5.3): then
    /// the caller must time the stage itself.
    @discardableResult
    func onExit(
        timeout: Double? = nil,
        onTimeout: @escaping @Sendable () -> Void = {},
        _ handler: @escaping @Sendable () -> Void
    ) -> Bool {
        let pid = self.pid
        let pidfd = self.pidfd
        let deadline = timeout.map { MonotonicClock.nanoseconds() + UInt64(max(0, $0) * 1e9) }
        startThread {
            if pidfd >= 0 {
                var fds = [pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)]
                var timing = deadline
                while heidi_child_exited_nowait(pid) == 0 {
                    var wait: Int32 = -1
                    if let end = timing {
                        let now = MonotonicClock.nanoseconds()
                        if now >= end {
                            timing = nil
                            onTimeout()
                            continue
                        }
                        wait = Int32(min(UInt64(Int32.max), (end - now + 999_999) / 1_000_000))
                    }
                    if poll(&fds, 1, wait) < 0 && errno != EINTR { break }
                }
                close(pidfd)
            } else {
                // pidfd_open unavailable (kernel < 5.3): block in waitid without reaping.
                var info = siginfo_t()
                while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
            }
            handler()
        }
        return pidfd >= 0
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
