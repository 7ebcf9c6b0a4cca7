import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// One per-stage resource limit, set before the stage's program starts: soft and hard limit both `value`, except
/// for `cpu`, whose hard limit is 5 s later so the stage gets SIGXCPU (catchable: time to save a checkpoint) before
/// the kernel's SIGKILL.
public struct ResourceLimit: Sendable, Equatable {
    /// The `setrlimit` resources a stage may limit (`stages.<stage>.rlimits` keys).
    public enum Resource: String, Sendable, CaseIterable {
        /// Open file descriptors (`RLIMIT_NOFILE`).
        case nofile
        /// Address space in bytes (`RLIMIT_AS`).
        case addressSpace = "as"
        /// CPU seconds (`RLIMIT_CPU`): SIGXCPU when reached (the hard limit, SIGKILL, is 5 s later).
        case cpu
        /// Core file size in bytes (`RLIMIT_CORE`); 0 disables core dumps.
        case core
        /// Processes of the stage's user (`RLIMIT_NPROC`; counts every process of that uid, not enforced for root).
        case nproc
    }

    public var resource: Resource
    public var value: UInt64

    /// The hard limit that goes with `value`.
    public var hardValue: UInt64 { resource == .cpu ? value + 5 : value }

    public init(_ resource: Resource, _ value: UInt64) {
        self.resource = resource
        self.value = value
    }

    /// The limits of a stage's `rlimits` mapping, in a stable order; unknown names are skipped (config validation
    /// rejects them before they get here).
    public static func from(_ settings: [String: Int64]) -> [ResourceLimit] {
        Resource.allCases.compactMap { resource in
            settings[resource.rawValue].map { ResourceLimit(resource, UInt64(max(0, $0))) }
        }
    }
}

/// `heidi-exec`, the exec wrapper every stage is started through (when installed) for what `posix_spawn` cannot do:
/// every signal at SIG_DFL (glibc's posix_spawn leaves its reserved signals 32 and 33 ignored in the child, and
/// SIG_IGN survives exec), resource limits, and joining its own cgroup before its first instruction.
///
/// Why a helper: `posix_spawn` has no rlimit or cgroup attribute, the daemon must never `fork` (it is
/// multi-threaded), `prlimit(2)` after the spawn races with the child's own first forks, and lowering the daemon's
/// own limits around the spawn would hit the daemon's other threads. The helper is single-threaded, applies the
/// settings to itself, and execs the stage's program in place (same pid, so the process group, pidfd and start time
/// the supervisor holds stay valid). It reports a failure on a close-on-exec status pipe, so a limit that cannot be
/// set is a spawn error with a precise message instead of a stage that silently runs unlimited.
public enum ExecHelper {
    public static let name = "heidi-exec"

    /// The helper: `$HEIDI_EXEC_HELPER`, else `heidi-exec` next to the running executable.
    public static let path: String? = locate(environment: ProcessEnvironment.current(), executable: ownExecutable())

    static func locate(environment: [String: String], executable: String?) -> String? {
        if let explicit = environment["HEIDI_EXEC_HELPER"], !explicit.isEmpty {
            return access(explicit, X_OK) == 0 ? explicit : nil
        }
        guard let executable else { return nil }
        let candidate = FileSystem.dirname(executable) + "/" + name
        return access(candidate, X_OK) == 0 ? candidate : nil
    }

    static func ownExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The helper's argv for `spec`: limits, cgroup, `--`, then the stage's own argv.
    static func arguments(helper: String, for spec: LaunchSpec) -> [String] {
        var argv = [helper]
        if let cgroup = spec.cgroup { argv += ["-g", cgroup] }
        for limit in spec.rlimits { argv += ["-l", "\(limit.resource.rawValue)=\(limit.value):\(limit.hardValue)"] }
        return argv + ["--"] + spec.argv
    }

    /// Parses the helper's status report (`<errno> <message>`).
    static func parseFailure(_ bytes: [UInt8]) -> (errno: Int32, message: String) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let space = text.firstIndex(of: " "), let code = Int32(text[..<space]) else { return (EIO, text) }
        return (code, String(text[text.index(after: space)...]))
    }
}
