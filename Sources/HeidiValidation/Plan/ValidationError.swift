import HeidiCore
import HeidiSupervisor

#if canImport(Glibc)
import Glibc
#endif

/// Why a check could not run. It never reaches the caller as an error: the block is rejected as
/// `toolchain_missing_<lang>` or `toolchain_error_<lang>` with this description as its diagnostic.
enum ValidationError: Error, CustomStringConvertible, Sendable {
    /// The toolchain's executable was not found (named, with where it was looked for).
    case toolchainNotFound(command: String, searchPath: String)
    /// The scratch directory for a check could not be made or written.
    case scratch(FileSystemError)
    /// The toolchain could not be started.
    case spawn(SpawnError)

    var description: String {
        switch self {
        case .toolchainNotFound(let command, let searchPath):
            return command.contains("/")
                ? "\(command) is not an executable file" : "\(command) was not found on PATH \(searchPath)"
        case .scratch(let error):
            return "cannot prepare the check's scratch directory: \(error)"
        case .spawn(let error):
            return error.description
        }
    }

    /// True when the toolchain is missing rather than broken.
    var isMissingToolchain: Bool {
        switch self {
        case .toolchainNotFound: return true
        case .spawn(let error): return error.errno == ENOENT
        case .scratch: return false
        }
    }
}
