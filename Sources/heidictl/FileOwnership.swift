#if canImport(Glibc)
import Glibc
#endif
import HeidiCore

/// Describes who may open a path, for permission errors people can act on.
enum FileOwnership {
    /// Who may open a path: `detail` reads `owner heidi, group heidi, mode 0660`; `group` is the group to join.
    struct Blocker {
        var detail: String
        var group: String?
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
        guard stat(path, &st) == 0 else { return Blocker(detail: "cannot stat: \(errnoDescription(errno))", group: nil) }
        let owner = getpwuid(st.st_uid).map { String(cString: $0.pointee.pw_name) } ?? String(st.st_uid)
        let group = getgrgid(st.st_gid).map { String(cString: $0.pointee.gr_name) } ?? String(st.st_gid)
        let mode = String(st.st_mode & 0o777, radix: 8)
        return Blocker(detail: "owner \(owner), group \(group), mode 0\(mode)", group: group)
    }
}
