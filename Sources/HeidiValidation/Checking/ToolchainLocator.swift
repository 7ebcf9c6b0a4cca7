#if canImport(Glibc)
import Glibc
#endif

/// Finds a toolchain's executable: a name with a slash as it is, a bare name in the directories of a search path.
enum ToolchainLocator {
    /// The absolute (or as-given) path of `command`, nil when there is no such executable file.
    static func resolve(_ command: String, searchPath: String) -> String? {
        guard !command.isEmpty else { return nil }
        if command.contains("/") { return isExecutableFile(command) ? command : nil }
        for directory in searchPath.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = directory.hasSuffix("/") ? "\(directory)\(command)" : "\(directory)/\(command)"
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    /// A regular file (after symbolic links) this process may execute.
    static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }
}
