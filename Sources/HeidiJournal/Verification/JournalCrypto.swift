import CCrypto
import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// A SHA-256 digest as a value (four words), so hot loops compare and store hashes without allocating.
public struct Digest: Hashable, Sendable, CustomStringConvertible {
    public var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0

    /// All zero: the `prev_hash` of seq 1.
    public static let zero = Digest()

    public init() {}

    /// The digest from 32 raw bytes.
    init(raw: UnsafeRawBufferPointer) {
        self.init()
        withUnsafeMutableBytes(of: &self) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw.prefix(32))) }
    }

    /// Parses 64 lowercase hex digits; nil for anything else.
    public init?(hex: String) {
        var text = hex
        guard let parsed = text.withUTF8({ Digest(hexBytes: $0) }) else { return nil }
        self = parsed
    }

    /// Parses exactly 64 lowercase hex digits.
    init?(hexBytes bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count == 64 else { return nil }
        self.init()
        let parsed: Bool = withUnsafeMutableBytes(of: &self) { raw in
            for index in 0..<32 {
                guard let high = Self.nibble(bytes[2 * index]), let low = Self.nibble(bytes[2 * index + 1]) else {
                    return false
                }
                raw[index] = high << 4 | low
            }
            return true
        }
        guard parsed else { return nil }
    }

    @inline(__always)
    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: return byte - 48
        case 97...102: return byte - 87
        default: return nil
        }
    }

    /// Whether `hex` is this digest's 64 lowercase hex digits (no allocation: the verifier's hot path).
    func matches(hex: UnsafeBufferPointer<UInt8>) -> Bool {
        guard hex.count == 64 else { return false }
        return withUnsafeBytes(of: self) { raw in
            for index in 0..<32 {
                let high = raw[index] >> 4
                let low = raw[index] & 0x0f
                guard hex[2 * index] == (high < 10 ? 48 + high : 87 + high),
                    hex[2 * index + 1] == (low < 10 ? 48 + low : 87 + low)
                else { return false }
            }
            return true
        }
    }

    /// The 32 bytes.
    public var bytes: [UInt8] { withUnsafeBytes(of: self) { Array($0) } }

    /// Lowercase hex, as in `prev_hash`.
    public var description: String { Hex.encode(bytes) }
}

/// SHA-256 of a journal line straight into a `Digest`. libgcrypt's one-shot digest allocates nothing, so there is no
/// context to keep from one line to the next.
struct LineHasher {
    func digest(_ bytes: UnsafeRawBufferPointer) -> Digest {
        var digest = Digest()
        withUnsafeMutableBytes(of: &digest) { SHA256.digest(bytes, into: $0) }
        return digest
    }
}

/// HMAC-SHA256 through libgcrypt, and a comparison whose time does not depend on where two MACs differ.
enum HMACSHA256 {
    static func mac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Libgcrypt.initialize()
        var out = [UInt8](repeating: 0, count: 32)
        var byte: UInt8 = 0
        let error = key.withUnsafeBytes { keyBytes in
            message.withUnsafeBytes { data in
                withUnsafeMutablePointer(to: &byte) { empty in
                    // With GCRY_MD_FLAG_HMAC the first buffer is the key. This fails only when libgcrypt cannot
                    // allocate its context; heidid then stops (systemd restarts it, the journal is on disk) rather
                    // than sign or accept a checkpoint with a MAC it did not compute.
                    var buffers = [
                        gcry_buffer_t(
                            size: keyBytes.count,
                            off: 0,
                            len: keyBytes.count,
                            data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress ?? UnsafeRawPointer(empty))
                        ),
                        gcry_buffer_t(
                            size: data.count,
                            off: 0,
                            len: data.count,
                            data: UnsafeMutableRawPointer(mutating: data.baseAddress ?? UnsafeRawPointer(empty))
                        ),
                    ]
                    return out.withUnsafeMutableBytes { result in
                        gcry_md_hash_buffers(
                            Libgcrypt.sha256,
                            UInt32(GCRY_MD_FLAG_HMAC.rawValue),
                            result.baseAddress,
                            &buffers,
                            2
                        )
                    }
                }
            }
        }
        precondition(error == 0, "HMAC-SHA256 failed in libgcrypt: \(String(cString: gcry_strerror(error)))")
        return out
    }

    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
