import CHeidiShim

#if canImport(Glibc)
import Glibc
#endif

/// How a child ended, with its resource usage from `wait4`.
public struct ExitInfo: Sendable, Equatable {
    public var exitCode: Int?
    public var signal: Int?
    public var userCPUMilliseconds: Int64
    public var systemCPUMilliseconds: Int64
    public var maxRSSKilobytes: Int64

    public init(
        exitCode: Int?,
        signal: Int?,
        userCPUMilliseconds: Int64 = 0,
        systemCPUMilliseconds: Int64 = 0,
        maxRSSKilobytes: Int64 = 0
    ) {
        self.exitCode = exitCode
        self.signal = signal
        self.userCPUMilliseconds = userCPUMilliseconds
        self.systemCPUMilliseconds = systemCPUMilliseconds
        self.maxRSSKilobytes = maxRSSKilobytes
    }

    init(status: Int32, usage: rusage) {
        if heidi_wifexited(status) != 0 {
            exitCode = Int(heidi_wexitstatus(status))
        } else if heidi_wifsignaled(status) != 0 {
            signal = Int(heidi_wtermsig(status))
        }
        userCPUMilliseconds = Int64(usage.ru_utime.tv_sec) * 1000 + Int64(usage.ru_utime.tv_usec) / 1000
        systemCPUMilliseconds = Int64(usage.ru_stime.tv_sec) * 1000 + Int64(usage.ru_stime.tv_usec) / 1000
        maxRSSKilobytes = Int64(usage.ru_maxrss)
    }

    public var succeeded: Bool { exitCode == 0 }

    /// `exit 0`, `exit 3`, `killed by SIGKILL`.
    public var description: String {
        if let exitCode { return "exit \(exitCode)" }
        if let signal { return "killed by \(SignalName.name(signal))" }
        return "unknown status"
    }
}

/// Signal numbers to their conventional names.
public enum SignalName {
    private static let names: [Int: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
        9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
        24: "SIGXCPU", 25: "SIGXFSZ",
    ]

    public static func name(_ signal: Int) -> String { names[signal] ?? "signal \(signal)" }
}
