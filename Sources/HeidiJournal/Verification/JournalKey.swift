import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// Why a journal key cannot be used.
public enum JournalKeyError: Error, CustomStringConvertible, Equatable, Sendable {
    case io(FileSystemError)
    /// The file exists but is not a key (64 hex digits and a newline).
    case malformed(path: String, reason: String)
    /// The file is readable or writable by others than its owner.
    case tooOpen(path: String, mode: UInt32)

    public var description: String {
        switch self {
        case .io(let error): return "journal key: \(error)"
        case .malformed(let path, let reason):
            return "\(path) is not a heidi journal key (\(reason)); a key is 64 hex digits on one line"
        case .tooOpen(let path, let mode):
            return "journal key \(path) has mode \(String(mode, radix: 8)): others may read it; run 'chmod 600 \(path)'"
        }
    }
}

/// The secret that signs checkpoints with HMAC-SHA256: 32 random bytes, stored as 64 hex digits and a newline in
/// `journal.key_file` (default `<state_dir>/journal.key`, created on first use with mode 0600).
///
/// The key id (the first 16 hex digits of the key's SHA-256) is written into every checkpoint, so a verifier can
/// tell which key signed it without the key being disclosed.
public struct JournalKey: Sendable, Equatable {
    public let secret: [UInt8]
    /// 16 lowercase hex digits identifying the key.
    public let id: String
    /// Where the key was read from (for messages).
    public let path: String

    public init(secret: [UInt8], path: String) {
        self.secret = secret
        self.path = path
        self.id = String(SHA256.hex(secret).prefix(16))
    }

    /// Reads a key file. With `requirePrivate`, a file that group or others may access is refused.
    public static func load(_ path: String, requirePrivate: Bool = false) throws(JournalKeyError) -> JournalKey {
        let bytes: [UInt8]
        do { bytes = try FileSystem.read(path) } catch { throw .io(error) }
        if requirePrivate {
            var st = stat()
            if stat(path, &st) == 0, st.st_mode & 0o077 != 0 {
                throw .tooOpen(path: path, mode: UInt32(st.st_mode & 0o7777))
            }
        }
        var text = bytes[...]
        if text.last == 0x0a { text = text.dropLast() }
        guard text.count == 64 else { throw .malformed(path: path, reason: "\(bytes.count) bytes") }
        let lower = text.map { (65...70).contains($0) ? $0 | 0x20 : $0 }
        guard let digest = lower.withUnsafeBufferPointer({ Digest(hexBytes: $0) }) else {
            throw .malformed(path: path, reason: "not hex digits")
        }
        return JournalKey(secret: digest.bytes, path: path)
    }

    /// Reads the key at `path`, creating a new random one (mode 0600) when there is none. `created` tells which.
    public static func loadOrCreate(_ path: String) throws(JournalKeyError) -> (key: JournalKey, created: Bool) {
        if FileSystem.exists(path) { return (try load(path, requirePrivate: true), false) }
        do { try FileSystem.createDirectories(FileSystem.dirname(path)) } catch { throw .io(error) }
        var generator = SystemRandomNumberGenerator()  // getrandom(2)
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            // Another process created it in the meantime: use that one.
            if errno == EEXIST { return (try load(path, requirePrivate: true), false) }
            throw .io(FileSystemError(path: path, operation: "create", errno: errno))
        }
        defer { close(fd) }
        fchmod(fd, 0o600)  // whatever the umask
        do { try FileSystem.writeAll(fd: fd, Array((Hex.encode(secret) + "\n").utf8), path: path) } catch {
            unlink(path)
            throw .io(error)
        }
        guard fsync(fd) == 0 else {
            let code = errno
            unlink(path)
            throw .io(FileSystemError(path: path, operation: "fsync", errno: code))
        }
        FileSystem.syncDirectory(of: path)
        return (JournalKey(secret: secret, path: path), true)
    }

    /// HMAC-SHA256 of `message` under this key.
    public func mac(_ message: [UInt8]) -> [UInt8] { HMACSHA256.mac(key: secret, message: message) }
}
