import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// Describes who may open a path, for permission errors people can act on.
enum FileOwnership {
    /// Who may open a path: `detail` reads `owner heidi, group heidi, mode 0660`; `group` is the group to join.
    struct Blocker {
        var detail: String
        var group: String?
        /// What the configuration heidictl read says about `control.group` (nil: none configured, or unknown).
        var controlGroup: ConfiguredGroup?
    }

    /// `control.group` as a configuration names it, and whether this host has such a group.
    struct ConfiguredGroup {
        var name: String
        var exists: Bool
        /// The configuration file (or "built-in defaults").
        var source: String

        init(name: String, source: String) {
            self.name = name
            self.exists = getgrnam(name) != nil
            self.source = source
        }
    }

    /// Advice for a caller the socket's mode keeps out: which group to join, or why joining would not help.
    static func advice(_ blocker: Blocker) -> String {
        let sudoJoin = { (group: String) in "join group \(group) (sudo usermod -aG \(group) $USER, then log in again)" }
        guard let configured = blocker.controlGroup else {
            guard let group = blocker.group, group != "root" else { return "run as root" }
            return "\(sudoJoin(group)) or run as root"
        }
        let name = configured.name
        if !configured.exists {
            return
                "control.group is '\(name)' (\(configured.source)), but no group '\(name)' exists on this host, so the socket "
                + "keeps group \(blocker.group ?? "of heidid's user"); create it (sudo groupadd \(name)), \(sudoJoin(name)) and "
                + "restart heidid, or run as root"
        }
        if let group = blocker.group, group != name {
            return
                "control.group is '\(name)' (\(configured.source)), but the socket belongs to group \(group) (heidid started "
                + "before the group existed, or with another config): restart heidid, \(sudoJoin(name)), or run as root"
        }
        return "\(sudoJoin(name)) or run as root"
    }

    /// The socket's ownership, or that of the first directory above it that the caller cannot search.
    static func describeBlocker(of path: String) -> Blocker {
        var directory = FileSystem.dirname(path)
        var blockers: [String] = []
        while directory != "/" && !directory.isEmpty {
            if access(directory, X_OK) != 0 { blockers.append(directory) }
            directory = FileSystem.dirname(directory)
        }
        if let outermost = blockers.last {
            let blocker = describe(outermost)
            return Blocker(detail: "directory \(outermost): \(blocker.detail)", group: blocker.group)
        }
        return describe(path)
    }

    static func describe(_ path: String) -> Blocker {
        var st = stat()
        guard stat(path, &st) == 0 else {
            return Blocker(detail: "cannot stat: \(errnoDescription(errno))", group: nil)
        }
        let owner = getpwuid(st.st_uid).map { String(cString: $0.pointee.pw_name) } ?? String(st.st_uid)
        let group = getgrgid(st.st_gid).map { String(cString: $0.pointee.gr_name) } ?? String(st.st_gid)
        let mode = String(st.st_mode & 0o777, radix: 8)
        return Blocker(detail: "owner \(owner), group \(group), mode 0\(mode)", group: group)
    }
}
