/// When journal appends reach the disk.
public enum FsyncPolicy: String, Sendable, CaseIterable {
    /// fdatasync after every line, before the caller acts on it.
    case always
    /// Group commit: the owner calls `sync()` shortly after appends (bounded delay).
    case batch
    /// Leave it to the kernel.
    case never
}
