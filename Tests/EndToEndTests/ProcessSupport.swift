import HeidiCore
@_exported import HeidiTestSupport

// Shared by EndToEndTests and HeidiSystemdTests (Tests/HeidiSystemdTests/ProcessSupport.swift is a symlink to this
// file): spawning the built executables, capturing their output, reaping them, and finding leftover processes.
// Depends on Glibc and HeidiCore only, which both test targets have.
#if canImport(Glibc)
import Glibc
#endif

extension Binaries {
    /// The absolute path of `name` on `$PATH`, or nil.
    static func onPath(_ name: String) -> String? {
        let path = TestEnvironment.inherited["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
    }
}

/// The environment children of the tests get: the test process's own, without anything that would change how
/// heidid or heidictl behave behind the test's back (systemd hand-over variables, heidi overrides).
enum TestEnvironment {
    static let inherited = ProcessEnvironment.current()

    private static let dropped: Set<String> = [
        "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
        "JOURNAL_STREAM",
        "ROUNDS", "RUN_UNIT_TESTS", "PIPELINE_MODE", "OUT_DIR", "RUN_ID", "MAX_CPU_PCT", "MAX_MEM_PCT",
        "MAX_WALL_TIME_MINUTES", "STATE_DIRECTORY", "RUNTIME_DIRECTORY",
    ]

    /// The clean base environment plus `extra`.
    static func make(_ extra: [String: String] = [:]) -> [String: String] {
        inherited.filter { !dropped.contains($0.key) && !$0.key.hasPrefix("HEIDI_") }.merging(extra) { _, new in new }
    }
}

/// What a finished command printed and how it ended (`status`: the exit code, or 128 + signal).
struct ProcessResult: CustomStringConvertible {
    var status: Int32
    var stdoutBytes: [UInt8]
    var stderr: String
    var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
    var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
}

enum Processes {
    /// Spawns `argv` in a new process group (HeidiTestSupport's `TestSpawn`).
    static func spawn(_ argv: [String], environment: [String: String], stdout: Int32, stderr: Int32) throws -> pid_t {
        try TestSpawn.spawn(argv, environment: environment, stdout: stdout, stderr: stderr)
    }

    /// Reaps `pid` if it has ended: its exit code (128 + signal when killed), or nil while it still runs.
    /// -1 if it is not (or no longer) our child: never signal that pid again, the number may be reused.
    static func reap(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        var rc: pid_t
        repeat { rc = waitpid(pid, &status, WNOHANG) } while rc < 0 && errno == EINTR
        if rc < 0 { return -1 }
        guard rc == pid else { return nil }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Polls `reap` until `pid` ends or `timeout` seconds pass, sleeping (not blocking a thread of the shared
    /// cooperative pool: on a 2-core machine two blocked threads starve every other test running in parallel).
    static func wait(_ pid: pid_t, timeout: Double) async -> Int32? {
        let deadline = Clock.seconds() + timeout
        var pause: UInt64 = 1_000_000
        while Clock.seconds() < deadline {
            if let status = reap(pid) { return status }
            try? await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 20_000_000)
        }
        return reap(pid)
    }

    /// Polls `reap` until `pid` ends or `timeout` seconds pass, blocking the calling thread. Only for cleanup
    /// (teardown, `defer`) of processes that were just SIGKILLed; everything else uses `wait`.
    static func waitBlocking(_ pid: pid_t, timeout: Double) -> Int32? {
        let deadline = Clock.seconds() + timeout
        while Clock.seconds() < deadline {
            if let status = reap(pid) { return status }
            usleep(5_000)
        }
        return reap(pid)
    }

    /// SIGKILL to `pid`'s process group, then reaps it (blocking briefly: the kernel delivers SIGKILL at once).
    @discardableResult
    static func killGroupAndReap(_ pid: pid_t) -> Int32? {
        killpg(pid, SIGKILL)
        return waitBlocking(pid, timeout: 5)
    }

    /// Runs a short cleanup command (in teardown or `defer`, where nothing can be awaited) and ignores how it ends;
    /// blocks the calling thread for at most `timeout` seconds.
    static func cleanUp(_ argv: [String], timeout: Double = 20) {
        guard let output = try? CaptureFile() else { return }
        defer { output.close() }
        guard let pid = try? spawn(argv, environment: TestEnvironment.make(), stdout: output.fd, stderr: output.fd)
        else { return }
        if waitBlocking(pid, timeout: timeout) == nil { killGroupAndReap(pid) }
    }

    /// Runs a command to completion (at most `timeout` seconds) and captures its output.
    static func run(
        _ argv: [String],
        environment: [String: String] = TestEnvironment.make(),
        timeout: Double = 20
    )
        async throws -> ProcessResult
    {
        let out = try CaptureFile()
        let err = try CaptureFile()
        defer {
            out.close()
            err.close()
        }
        let pid = try spawn(argv, environment: environment, stdout: out.fd, stderr: err.fd)
        guard let status = await wait(pid, timeout: timeout) else {
            killGroupAndReap(pid)
            throw HarnessError("\(argv.joined(separator: " ")) did not finish within \(timeout) s")
        }
        return ProcessResult(
            status: status,
            stdoutBytes: out.contents(),
            stderr: String(decoding: err.contents(), as: UTF8.self)
        )
    }

    /// Live (non-zombie) processes whose environment contains the entry `marker` (`NAME=value`).
    static func withEnvironmentEntry(_ marker: String) -> [pid_t] {
        let needle = Array(marker.utf8)
        var found: [pid_t] = []
        for name in (try? FileSystem.entries(of: "/proc")) ?? [] {
            guard let pid = pid_t(name), let environment = try? FileSystem.read("/proc/\(name)/environ") else {
                continue
            }
            if environment.split(separator: 0).contains(where: { $0.elementsEqual(needle) }) { found.append(pid) }
        }
        return found
    }

    /// The value of `name` in the environment `pid` was started with; nil when it has none.
    static func environmentValue(_ name: String, of pid: pid_t) -> String? {
        guard let environment = try? FileSystem.read("/proc/\(pid)/environ") else { return nil }
        let prefix = Array((name + "=").utf8)
        for entry in environment.split(separator: 0) where entry.starts(with: prefix) {
            return String(decoding: entry.dropFirst(prefix.count), as: UTF8.self)
        }
        return nil
    }
}

/// An unlinked temporary file a child writes its output into.
struct CaptureFile {
    let fd: Int32

    init() throws {
        var template = Array("/tmp/heidi-capture-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw HarnessError("mkstemp: \(String(cString: strerror(errno)))") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)  // other tests spawn concurrently; only our child gets it (via dup2)
        _ = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
        self.fd = fd
    }

    func contents() -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if n <= 0 { return result }
            result += buffer[0..<n]
            offset += off_t(n)
        }
    }

    func close() { _ = Glibc.close(fd) }
}

/// A scratch directory under /tmp (short, since Unix socket paths are limited to 107 bytes).
struct TempDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/heidi-e2e-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw HarnessError("mkdtemp: \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
    }

    func file(_ name: String) -> String { path + "/" + name }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let target = file(name)
        try FileSystem.writeAtomically(target, Array(text.utf8), mode: 0o644)
        return target
    }

    /// Removes the directory and everything in it.
    func remove() { Processes.cleanUp(["/bin/rm", "-rf", path]) }
}

/// Monotonic seconds, for deadlines.
enum Clock {
    static func seconds() -> Double { Double(MonotonicClock.nanoseconds()) / 1e9 }
}

/// A `sockaddr_un` for `path`, for bind (HeidiCore's `UnixSocket.connect` covers connecting).
func withUnixAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path), "socket path too long: \(path)")
    withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}
