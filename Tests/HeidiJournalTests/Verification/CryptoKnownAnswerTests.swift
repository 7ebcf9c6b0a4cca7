import Testing

@testable import HeidiCore
@testable import HeidiJournal

/// SHA-256 and HMAC-SHA256 against published test vectors (FIPS 180-2 examples, RFC 4231), through every path the
/// journal uses: the hash as bytes, the per-line `Digest`, and the checkpoint MAC. A chain hashed wrongly would
/// still verify against itself; these pin the digests to the standard.
@Suite("Crypto known answers")
struct CryptoKnownAnswerTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func sha256(_ message: String, _ expected: String) {
        #expect(SHA256.hex(Array(message.utf8)) == expected)
        #expect(SHA256.hex(message.utf8) == expected, "through a non-contiguous collection")
        let hasher = LineHasher()
        for _ in 0..<2 {  // the same hasher, line after line
            let digest = Array(message.utf8).withUnsafeBytes { hasher.digest($0) }
            #expect(digest.description == expected)
        }
    }

    @Test func aMillionAs() {
        let message = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hex(message) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(message.withUnsafeBytes { LineHasher().digest($0) }.description == SHA256.hex(message))
    }

    @Test(arguments: [
        // RFC 4231 test cases 1, 2 and 6 (a key longer than the block size is hashed first).
        (
            [UInt8](repeating: 0x0b, count: 20), "Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        ),
        (
            Array("Jefe".utf8), "what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        ),
        (
            [UInt8](repeating: 0xaa, count: 131), "Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        ),
    ])
    func hmacSHA256(_ key: [UInt8], _ message: String, _ expected: String) {
        #expect(Hex.encode(HMACSHA256.mac(key: key, message: Array(message.utf8))) == expected)
    }
}
