import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Sends structured entries to journald with `sd_journal_sendv` (`sd_journal_send` is C-variadic and cannot be
/// called from Swift). Field names must be `[A-Z0-9_]`, not start with `_`, at most 64 characters.
public enum JournaldSender {
    /// Sends one entry; returns 0 or a negative errno. Note: returns 0 and drops the entry when journald is absent.
    @discardableResult
    public static func send(_ fields: [(String, String)]) -> Int32 {
        var bytes: [UInt8] = []
        var ranges: [(Int, Int)] = []
        for (name, value) in fields {
            let start = bytes.count
            bytes += Array(sanitize(name).utf8)
            bytes.append(UInt8(ascii: "="))
            bytes += Array(value.utf8)
            ranges.append((start, bytes.count - start))
        }
        return bytes.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return -EINVAL }
            var iov = ranges.map { iovec(iov_base: base + $0.0, iov_len: $0.1) }
            return sd_journal_sendv(&iov, Int32(iov.count))
        }
    }

    /// A valid journald field name for `name` (uppercased, invalid characters as `_`, no leading `_`).
    public static func sanitize(_ name: String) -> String {
        var out = String(
            name.uppercased().unicodeScalars.map { scalar -> Character in
                (("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)) ? Character(scalar) : "_"
            }
        )
        while out.hasPrefix("_") { out.removeFirst() }
        if out.isEmpty { out = "FIELD" }
        return String(out.prefix(64))
    }

    /// Whether stderr is connected to the journal: `JOURNAL_STREAM` names stderr's device and inode.
    public static func stderrIsJournal(environment: [String: String]) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return UInt64(st.st_dev) == device && UInt64(st.st_ino) == inode
    }
}
