#if canImport(Glibc)
import Glibc
#endif
import CCrypto

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
                guard let high = Self.nibble(bytes[2 * index]), let low = Self.nibble(bytes[2 * index + 1]) else { return false }
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
                let high = raw[index] >> 4, low = raw[index] & 0x0f
                guard hex[2 * index] == (high < 10 ? 48 + high : 87 + high), hex[2 * index + 1] == (low < 10 ? 48 + low : 87 + low)
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

/// SHA-256 of many lines with one reused libcrypto context (no allocation per line). Not thread-safe.
final class LineHasher {
    private let context: OpaquePointer?
    /// Fetched once: with OpenSSL 3, `EVP_sha256()` would be fetched again (under a lock) on every init.
    private let algorithm: OpaquePointer?

    init() {
        context = EVP_MD_CTX_new()
        algorithm = EVP_MD_fetch(nil, "SHA256", nil)
    }

    deinit {
        EVP_MD_CTX_free(context)
        EVP_MD_free(algorithm)
    }

    func digest(_ bytes: UnsafeRawBufferPointer) -> Digest {
        var digest = Digest()
        withUnsafeMutableBytes(of: &digest) { out in
            guard EVP_DigestInit_ex(context, algorithm, nil) == 1,
                EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1,
                EVP_DigestFinal_ex(context, out.baseAddress?.assumingMemoryBound(to: UInt8.self), nil) == 1
            else {
                // libcrypto only fails here when out of memory; fall back to the one-shot path.
                let fallback = SHA256.hash(UnsafeRawBufferPointer(bytes))
                fallback.withUnsafeBytes { out.copyMemory(from: $0) }
                return
            }
        }
        return digest
    }
}

/// HMAC-SHA256 through libcrypto, and a comparison whose time does not depend on where two MACs differ.
enum HMACSHA256 {
    static func mac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        _ = key.withUnsafeBytes { keyBytes in
            message.withUnsafeBytes { data in
                out.withUnsafeMutableBytes { result in
                    HMAC(EVP_sha256(), keyBytes.baseAddress, Int32(keyBytes.count),
                         data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count,
                         result.baseAddress?.assumingMemoryBound(to: UInt8.self), &length)
                }
            }
        }
        return out
    }

    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
