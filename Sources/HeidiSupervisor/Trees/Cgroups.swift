import HeidiCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A cgroup file operation failed.
public struct CgroupError: Error, Equatable, CustomStringConvertible, Sendable {
    public var path: String
    public var operation: String
    public var errno: Int32

    public var description: String { "\(path): \(operation) failed: \(errnoDescription(errno))" }
}

/// A cgroup v2 subtree delegated to the daemon (systemd `Delegate=yes`, or `HEIDI_CGROUP`).
///
/// cgroup v2 forbids processes in inner nodes, so adopting the subtree moves the daemon into a leaf,
/// `<root>/supervisor`, enables the available `cpu`, `memory` and `pids` controllers for the children, and removes
/// stage cgroups a previous daemon left (after `cgroup.kill`). Each stage then gets `<root>/stage-…`, joined by the
/// exec helper before the stage's first instruction, killed as a whole with `cgroup.kill`, and read for CPU and
/// memory accounting before it is removed.
public final class CgroupDelegation: Sendable {
    /// The delegated directory, e.g. `/sys/fs/cgroup/system.slice/heidi.service`.
    public let root: String
    /// Where the daemon itself lives: `<root>/supervisor`.
    public let leaf: String
    /// The cgroup2 mount point (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on hybrid systems).
    public let mountPoint: String
    /// Controllers enabled for stage cgroups (may be empty: CPU time is always accounted in `cpu.stat`).
    public let controllers: [String]
    /// Stage cgroups of a previous daemon found at adoption, killed and removed.
    public let leftoversRemoved: Int

    private static let adopted = Mutex<[String: CgroupDelegation]>([:])

    private init(root: String, mountPoint: String, controllers: [String], leftoversRemoved: Int) {
        self.root = root
        self.leaf = root + "/supervisor"
        self.mountPoint = mountPoint
        self.controllers = controllers
        self.leftoversRemoved = leftoversRemoved
    }

    /// Takes over `root` (a directory on the cgroup2 mount at `mountPoint`): moves this process, and anything
    /// else directly in `root`, into the `supervisor` leaf. Adopting the same root again returns the same object.
    public static func adopt(root: String, mountPoint: String) throws(CgroupError) -> CgroupDelegation {
        try adopted.withLock { (cache: inout [String: CgroupDelegation]) throws(CgroupError) -> CgroupDelegation in
            if let existing = cache[root] { return existing }
            let leaf = root + "/supervisor"
            if mkdir(leaf, 0o755) != 0 && errno != EEXIST {
                throw CgroupError(path: leaf, operation: "mkdir", errno: errno)
            }
            try CgroupFile.write(leaf + "/cgroup.procs", "0")
            // Whatever else sits in the root (normally nothing) must move too, or no controller can be enabled.
            for pid in CgroupFile.pids(root + "/cgroup.procs") {
                try? CgroupFile.write(leaf + "/cgroup.procs", String(pid))
            }
            guard FileSystem.exists(leaf + "/cgroup.kill") else {
                throw CgroupError(
                    path: leaf + "/cgroup.kill",
                    operation: "find (needs Linux 5.14 or newer)",
                    errno: ENOENT
                )
            }
            let available = (CgroupFile.text(root + "/cgroup.controllers") ?? "").split(separator: " ").map(String.init)
            var enabled: [String] = []
            for controller in ["cpu", "memory", "pids"] where available.contains(controller) {
                if (try? CgroupFile.write(root + "/cgroup.subtree_control", "+" + controller)) != nil {
                    enabled.append(controller)
                }
            }
            var leftovers = 0
            for name in CgroupFile.subdirectories(root) where name.hasPrefix("stage-") {
                let stale = StageCgroup(path: root + "/" + name, mountPoint: mountPoint)
                stale.kill()
                // Start-up only: give the kernel a moment to deliver the SIGKILLs before removing the group.
                for _ in 0..<1000 where stale.isPopulated { usleep(1000) }
                stale.remove()
                leftovers += 1
            }
            let delegation = CgroupDelegation(
                root: root,
                mountPoint: mountPoint,
                controllers: enabled,
                leftoversRemoved: leftovers
            )
            cache[root] = delegation
            return delegation
        }
    }

    /// Creates the cgroup for one stage run.
    public func makeStageGroup(_ name: String) throws(CgroupError) -> StageCgroup {
        let path = root + "/" + name
        guard mkdir(path, 0o755) == 0 else { throw CgroupError(path: path, operation: "mkdir", errno: errno) }
        return StageCgroup(path: path, mountPoint: mountPoint)
    }

    /// Moves this process to `cgroup` (a directory) and forgets the adoption; used by tests to leave no trace.
    public func release(movingTo cgroup: String) throws(CgroupError) {
        try CgroupFile.write(cgroup + "/cgroup.procs", "0")
        for pid in CgroupFile.pids(leaf + "/cgroup.procs") {
            try? CgroupFile.write(cgroup + "/cgroup.procs", String(pid))
        }
        _ = Self.adopted.withLock { $0.removeValue(forKey: root) }
        rmdir(leaf)
    }
}

/// CPU and memory use of a whole stage tree, read from its cgroup (orphans and escapers included, which `wait4`
/// of the leader cannot see).
public struct CgroupUsage: Sendable, Equatable {
    public var userMicroseconds: Int64
    public var systemMicroseconds: Int64
    /// `memory.peak` when the memory controller is enabled (Linux 5.19+), else nil.
    public var memoryPeakBytes: Int64?
}

/// One stage's cgroup.
public struct StageCgroup: Sendable, Equatable {
    public let path: String
    /// The path relative to the cgroup2 mount, as `/proc/PID/cgroup` shows it after `0::`.
    public let relativePath: String

    init(path: String, mountPoint: String) {
        self.path = path
        let relative = String(path.dropFirst(mountPoint.count))
        relativePath = relative.hasPrefix("/") ? relative : "/" + relative
    }

    /// Pids of the live processes in the cgroup.
    public func processes() -> [Int32] { CgroupFile.pids(path + "/cgroup.procs") }

    /// Whether any live process is left (`populated` in `cgroup.events`; zombies do not count).
    public var isPopulated: Bool {
        guard let events = CgroupFile.text(path + "/cgroup.events") else { return false }
        return events.split(separator: "\n").contains("populated 1")
    }

    /// SIGKILLs every process in the cgroup, and any it forks meanwhile (`cgroup.kill`).
    @discardableResult
    public func kill() -> Bool { (try? CgroupFile.write(path + "/cgroup.kill", "1")) != nil }

    /// Whether `pid` (alive or a zombie) belongs to this cgroup.
    public func contains(_ pid: Int32) -> Bool {
        guard let text = ProcessTable.readSmallFile("/proc/\(pid)/cgroup") else { return false }
        return text.split(separator: "\n").contains { $0.hasPrefix("0::") && $0.dropFirst(3) == relativePath }
    }

    /// CPU time from `cpu.stat` and the memory peak, if the controller provides one.
    public func usage() -> CgroupUsage {
        var values: [Substring: Int64] = [:]
        for line in (CgroupFile.text(path + "/cpu.stat") ?? "").split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Int64(parts[1]) { values[parts[0]] = value }
        }
        let peak = CgroupFile.text(path + "/memory.peak").flatMap { Int64($0.split(separator: "\n").first ?? "") }
        return CgroupUsage(
            userMicroseconds: values["user_usec"] ?? 0,
            systemMicroseconds: values["system_usec"] ?? 0,
            memoryPeakBytes: peak
        )
    }

    /// Removes the (empty) cgroup. Returns false if it still holds processes or is already gone.
    @discardableResult
    public func remove() -> Bool { rmdir(path) == 0 }
}

/// Reading and writing cgroup interface files.
enum CgroupFile {
    static func write(_ path: String, _ text: String) throws(CgroupError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CgroupError(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw CgroupError(path: path, operation: "write \"\(text)\"", errno: errno)
        }
    }

    static func text(_ path: String) -> String? { ProcessTable.readSmallFile(path) }

    static func pids(_ path: String) -> [Int32] {
        (text(path) ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    static func subdirectories(_ path: String) -> [String] {
        ((try? FileSystem.entries(of: path)) ?? []).filter { FileSystem.isDirectory(path + "/" + $0) }
    }
}
