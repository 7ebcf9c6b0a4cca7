#if canImport(Glibc)
import Glibc
#endif
import HeidiCore

/// Describes who may open a path, for permission errors people can act on.
enum FileOwnership {
    /// `owner heidi, group heidi, mode 0660` for the socket, or the same for the first directory above it that the
    /// caller cannot search.
    static func describeBlocker(of path: String) -> String {
        var directory = FileSystem.dirname(path)
        var blockers: [String] = []
        while directory != "/" && !directory.isEmpty {
            if access(directory, X_OK) != 0 { blockers.append(directory) }
            directory = FileSystem.dirname(directory)
        }
        if let outermost = blockers.last { return "directory \(outermost): \(describe(outermost))" }
        return describe(path)
    }

    static func describe(_ path: String) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { return "cannot stat: \(errnoDescription(errno))" }
        let owner = getpwuid(st.st_uid).map { String(cString: $0.pointee.pw_name) } ?? String(st.st_uid)
        let group = getgrgid(st.st_gid).map { String(cString: $0.pointee.gr_name) } ?? String(st.st_gid)
        let mode = String(st.st_mode & 0o777, radix: 8)
        return "owner \(owner), group \(group), mode 0\(mode)"
    }
}
