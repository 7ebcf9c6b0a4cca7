import CCrypto

/// SHA-256 through OpenSSL libcrypto (EVP), used for the journal hash chain.
///
/// libcrypto instead of swift-crypto: same speed, and no vendored BoringSSL to compile on every CI run.
public enum SHA256 {
    // OpaquePointer is not Sendable; the fetched EVP_MD is immutable and thread-safe to share.
    nonisolated(unsafe) private static let digest: OpaquePointer? = EVP_MD_fetch(nil, "SHA256", nil)

    /// The 32-byte digest of `bytes`.
    public static func hash<Bytes: Collection>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let done: Bool? = bytes.withContiguousStorageIfAvailable { buffer in
            EVP_Digest(buffer.baseAddress, buffer.count, &out, &length, digest, nil) == 1
        }
        if done == nil {
            let copy = Array(bytes)
            _ = copy.withUnsafeBufferPointer { EVP_Digest($0.baseAddress, $0.count, &out, &length, digest, nil) }
        }
        return out
    }

    /// Lowercase hex of the digest of `bytes`.
    public static func hex<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        Hex.encode(hash(bytes))
    }

    /// The `prev_hash` of the first line of a journal.
    public static let zeroHex = String(repeating: "0", count: 64)
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
