/// A stage child could not be started.
public struct SpawnError: Error, Equatable, CustomStringConvertible, Sendable {
    public var executable: String
    public var errno: Int32
    public var detail: String

    public init(executable: String, errno: Int32, detail: String) {
        self.executable = executable
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        let hint: String
        switch errno {
        case 2: hint = " (not found: check the command and PATH, or give an absolute path)"
        case 13: hint = " (permission denied: is it executable?)"
        default: hint = ""
        }
        return "cannot start \(executable): \(detail)\(hint)"
    }
}
