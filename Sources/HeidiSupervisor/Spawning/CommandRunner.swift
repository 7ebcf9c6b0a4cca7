import CHeidiShim
import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// Why a command could not be run.
public struct CommandError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
}

/// Runs a short command (found on `PATH`, stdin `/dev/null`) to completion and collects its stdout and stderr:
/// `journalctl` for `heidictl journal verify --journald`, `nvidia-smi` for `heidictl init`. Not for stages, which
/// are supervised (`ChildProcess`).
public enum CommandRunner {
    public struct Output: Sendable, Equatable {
        /// The exit status, or 128 + the signal that killed it.
        public var status: Int32
        public var stdout: [UInt8]
        public var stderr: [UInt8]

        public init(status: Int32, stdout: [UInt8], stderr: [UInt8]) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
        }
    }

    public static func run(_ argv: [String]) throws(CommandError) -> Output {
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard heidi_pipe_cloexec(&outPipe) == 0 else {
            throw CommandError(description: "pipe: \(errnoDescription(errno))")
        }
        guard heidi_pipe_cloexec(&errPipe) == 0 else {
            close(outPipe[0])
            close(outPipe[1])
            throw CommandError(description: "pipe: \(errnoDescription(errno))")
        }
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArgs { free(pointer) } }
        var pid: pid_t = 0
        let spawned = heidi_spawn(argv[0], &cArgs, environ, nil, outPipe[1], errPipe[1], -1, &pid)
        close(outPipe[1])
        close(errPipe[1])
        defer {
            close(outPipe[0])
            close(errPipe[0])
        }
        guard spawned == 0 else {
            throw CommandError(description: "cannot run \(argv[0]): \(errnoDescription(spawned))")
        }
        var out: [UInt8] = []
        var err: [UInt8] = []
        var fds = [
            pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0),
            pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0),
        ]
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while fds.contains(where: { $0.fd >= 0 }) {
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for index in fds.indices where fds[index].fd >= 0 && fds[index].revents != 0 {
                let n = chunk.withUnsafeMutableBytes { read(fds[index].fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    if index == 0 { out += chunk[0..<n] } else { err += chunk[0..<n] }
                } else if n == 0 || errno != EINTR {
                    fds[index].fd = -1
                }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = heidi_wifexited(status) != 0 ? heidi_wexitstatus(status) : 128 + heidi_wtermsig(status)
        return Output(status: code, stdout: out, stderr: err)
    }
}
