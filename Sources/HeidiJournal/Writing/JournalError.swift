import HeidiCore

/// Failures of the journal, each naming the file involved.
public enum JournalError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A file-system call failed (open, write, fsync, rename, truncate).
    case io(FileSystemError)
    /// The last complete line cannot be continued from (not a v2 event); nothing was changed.
    case unreadableTail(path: String, reason: String)
    /// Another process holds the journal's state directory.
    case locked(path: String, holder: String)
    /// Damage found at start could not be recorded as `journal_damaged` (heidid does not start over it).
    case damageNotRecorded(path: String, finding: String, reason: String)

    public var description: String {
        switch self {
        case .io(let error): return "journal: \(error)"
        case .unreadableTail(let path, let reason):
            return "\(path): the last line cannot be continued (\(reason)); run 'heidictl journal verify \(path)' "
                + "and move the file aside to start a new journal"
        case .damageNotRecorded(let path, let finding, let reason):
            return
                "\(path): the journal is damaged and the finding could not be recorded (\(reason)), so heidid does not start; "
                + "the next start records it. Finding: \(finding)"
        case .locked(let path, let holder):
            return "state directory is in use by \(holder) (lock file \(path)); one heidid per state directory"
        }
    }
}
