import CCrypto

/// SHA-256 through libgcrypt, used for the journal hash chain.
///
/// libgcrypt rather than OpenSSL's libcrypto: libsystemd already loads it into heidid, it hashes journal-sized lines
/// faster (about 340 against 460 ns for 300 bytes here), and OpenSSL 3 initialises its whole provider for one
/// SHA-256, which kept 2.6 MiB more of the idle daemon resident. Rather than swift-crypto: no vendored BoringSSL to
/// compile on every CI run.
public enum SHA256 {
    /// The 32-byte digest of `bytes`.
    public static func hash<Bytes: Collection>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBytes { result in
            let done: Void? = bytes.withContiguousStorageIfAvailable {
                digest(UnsafeRawBufferPointer($0), into: result)
            }
            if done == nil { Array(bytes).withUnsafeBytes { digest($0, into: result) } }
        }
        return out
    }

    /// The digest of `bytes` into the first 32 bytes of `out`; allocates nothing.
    public static func digest(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        Libgcrypt.initialize()
        withUnsafeBytes(of: 0 as UInt8) { empty in
            gcry_md_hash_buffer(Libgcrypt.sha256, out.baseAddress, bytes.baseAddress ?? empty.baseAddress, bytes.count)
        }
    }

    /// Lowercase hex of the digest of `bytes`.
    public static func hex<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        Hex.encode(hash(bytes))
    }

    /// The `prev_hash` of the first line of a journal.
    public static let zeroHex = String(repeating: "0", count: 64)
}

/// libgcrypt's one-time set-up, done before the first digest or HMAC (the journal's checkpoints use it too).
public enum Libgcrypt {
    public static let sha256 = Int32(GCRY_MD_SHA256.rawValue)

    private static let initialized: Bool = heidi_gcrypt_initialize() == 0

    public static func initialize() {
        // Only possible when the installed library is older than the one heidi was built against: like a missing
        // symbol, a broken installation, which the dynamic loader would refuse too.
        guard initialized else {
            let installed = String(cString: gcry_check_version(nil))
            fatalError("libgcrypt \(installed) is older than \(GCRYPT_VERSION), which heidi was built with")
        }
    }
}

/// Lowercase hexadecimal encoding with a lookup table (String(radix:) per byte is ~5x slower).
public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True when `text` is exactly `length` lowercase hex digits.
    public static func isLowercaseHex(_ text: Substring, length: Int) -> Bool {
        text.utf8.count == length && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
