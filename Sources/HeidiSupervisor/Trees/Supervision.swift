import CHeidiShim
import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// How this daemon finds and kills whole stage trees, decided once at start and reported in the log and in
/// `status.supervision`: always the process group and session (`pgroup`), the child-subreaper (`subreaper`,
/// orphans are re-parented to the daemon), and a cgroup per stage (`cgroup2`) when a cgroup v2 subtree is delegated.
public struct Supervision: Sendable {
    /// `cgroup2+subreaper+pgroup`, `subreaper+pgroup` or `pgroup`.
    public let mechanism: String
    /// The delegated subtree stages run in, when available.
    public let cgroups: CgroupDelegation?
    /// One sentence for the log: where the cgroups are, or why none are used.
    public let detail: String

    public init(mechanism: String, cgroups: CgroupDelegation?, detail: String) {
        self.mechanism = mechanism
        self.cgroups = cgroups
        self.detail = detail
    }

    /// Becomes a child subreaper and adopts the delegated cgroup subtree if there is one.
    ///
    /// `HEIDI_CGROUP=off` disables cgroups; `HEIDI_CGROUP=<directory>` names a cgroup2 directory to use as if
    /// delegated (for setups without systemd); otherwise the daemon's own cgroup is used only when systemd marked it
    /// delegated (`trusted.delegate`/`user.delegate`, set for `Delegate=yes`) and it is writable.
    public static func setUp(environment: [String: String]) -> Supervision {
        let subreaper = TreeKiller.becomeSubreaper()
        let base = subreaper ? "subreaper+pgroup" : "pgroup"
        let decision = CgroupDetection.decide(
            override: environment["HEIDI_CGROUP"],
            ownCgroup: CgroupFile.text("/proc/self/cgroup") ?? "",
            mountinfo: CgroupFile.text("/proc/self/mountinfo") ?? "",
            probe: .system
        )
        switch decision {
        case .skip(let reason):
            return Supervision(mechanism: base, cgroups: nil, detail: "no per-stage cgroups: \(reason)")
        case .use(let root, _) where ExecHelper.path == nil:
            return Supervision(
                mechanism: base,
                cgroups: nil,
                detail: "no per-stage cgroups: \(root) is delegated, but starting "
                    + "stages inside it needs the \(ExecHelper.name) helper next to the daemon's executable"
            )
        case .use(let root, let mountPoint):
            do {
                let delegation = try CgroupDelegation.adopt(root: root, mountPoint: mountPoint)
                var detail = "stages run in cgroups under \(root) (daemon in \(delegation.leaf)"
                detail +=
                    delegation.controllers.isEmpty
                    ? "; no controllers delegated, CPU from cpu.stat)"
                    : "; controllers \(delegation.controllers.joined(separator: " ")))"
                if delegation.leftoversRemoved > 0 {
                    detail += "; removed \(delegation.leftoversRemoved) leftover stage cgroup(s)"
                }
                return Supervision(mechanism: "cgroup2+" + base, cgroups: delegation, detail: detail)
            } catch {
                return Supervision(
                    mechanism: base,
                    cgroups: nil,
                    detail: "no per-stage cgroups: cannot adopt \(root): \(error)"
                )
            }
        }
    }
}

/// The pure part of cgroup detection: which directory, if any, the daemon may use as its delegated subtree.
public enum CgroupDetection {
    public enum Decision: Equatable, Sendable {
        case use(root: String, mountPoint: String)
        case skip(String)
    }

    /// File-system questions the decision needs, answered by the real system or by a test.
    public struct Probe: Sendable {
        public var isDelegated: @Sendable (String) -> Bool
        public var isWritable: @Sendable (String) -> Bool
        public var isDirectory: @Sendable (String) -> Bool

        public init(
            isDelegated: @escaping @Sendable (String) -> Bool,
            isWritable: @escaping @Sendable (String) -> Bool,
            isDirectory: @escaping @Sendable (String) -> Bool
        ) {
            self.isDelegated = isDelegated
            self.isWritable = isWritable
            self.isDirectory = isDirectory
        }

        public static let system = Probe(
            isDelegated: { path in
                heidi_xattr_is_one(path, "trusted.delegate") == 1 || heidi_xattr_is_one(path, "user.delegate") == 1
            },
            isWritable: { path in access(path, W_OK) == 0 && access(path + "/cgroup.procs", W_OK) == 0 },
            isDirectory: { FileSystem.isDirectory($0) }
        )
    }

    /// `ownCgroup` is `/proc/self/cgroup`, `mountinfo` is `/proc/self/mountinfo`.
    public static func decide(override: String?, ownCgroup: String, mountinfo: String, probe: Probe) -> Decision {
        if let override, ["off", "0", "no", "false"].contains(override.lowercased()) {
            return .skip("disabled by HEIDI_CGROUP=\(override)")
        }
        guard let mount = cgroup2Mount(mountinfo) else { return .skip("no cgroup2 file system is mounted") }
        if let override, !override.isEmpty {
            guard override.hasPrefix(mount.point + "/") else {
                return .skip("HEIDI_CGROUP=\(override) is not below the cgroup2 mount \(mount.point)")
            }
            guard probe.isDirectory(override), probe.isWritable(override) else {
                return .skip("HEIDI_CGROUP=\(override) is not a writable cgroup directory")
            }
            return .use(root: override, mountPoint: mount.point)
        }
        guard let line = ownCgroup.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) else {
            return .skip("this process has no cgroup v2 membership")
        }
        var own = String(line.dropFirst(3))
        if mount.root != "/" {
            guard own.hasPrefix(mount.root) else {
                return .skip("own cgroup \(own) is outside the mounted cgroup2 tree")
            }
            own = String(own.dropFirst(mount.root.count))
        }
        if own.hasSuffix("/") { own.removeLast() }
        // A previous adoption (or systemd's DelegateSubgroup=supervisor) put the daemon in the leaf already.
        if own.hasSuffix("/supervisor") { own.removeLast("/supervisor".count) }
        guard !own.isEmpty else {
            return .skip("own cgroup is the root of the cgroup2 hierarchy at \(mount.point), which is not delegated")
        }
        let root = mount.point + own
        guard probe.isDelegated(root) else {
            return .skip(
                "own cgroup \(root) is not delegated (run under systemd with Delegate=yes, or set HEIDI_CGROUP)"
            )
        }
        guard probe.isWritable(root) else {
            return .skip("own cgroup \(root) is delegated but not writable by this user")
        }
        return .use(root: root, mountPoint: mount.point)
    }

    /// The mount point and mount root of the cgroup2 file system.
    ///
    /// A mountinfo line is space-separated fields: ID, parent ID, major:minor, root, mount point, options, optional
    /// fields, then a lone `-` and the file system type. (Split on single characters: a string separator would pull
    /// Swift's string-processing library into the daemon's start-up.)
    static func cgroup2Mount(_ mountinfo: String) -> (point: String, root: String)? {
        for line in mountinfo.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard let dash = fields.firstIndex(of: "-"), dash >= 5, dash + 1 < fields.count,
                fields[dash + 1] == "cgroup2"
            else { continue }
            return (String(fields[4]), String(fields[3]))
        }
        return nil
    }
}
