import HeidiCore
import Testing

@Suite("Base64, constant-time compare and trimming (credentials)")
struct Base64Tests {
    @Test("RFC 4648's test vectors encode and decode; characters outside the alphabet are refused")
    func vectors() {
        let vectors = [
            "": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=",
            "foobar": "Zm9vYmFy",
        ]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
        let bytes = (0...255).map { UInt8($0) }
        #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        #expect(Base64.decode("Zm9v YmFy") == nil)
        #expect(Base64.decode("Zm9v*") == nil)
    }

    @Test("constant-time compare: equal only for the same bytes, whichever side is the secret")
    func constantTime() {
        #expect(ConstantTime.equals("abc", "abc"))
        for other in ["abd", "ab", "abcd", "", "abc\u{0}"] {
            #expect(!ConstantTime.equals(other, "abc"))
            #expect(!ConstantTime.equals("abc", other))
        }
    }

    @Test func trimming() {
        #expect(" \t a b \t".trimmingCharacters(in: " \t") == "a b")
        #expect("xx".trimmingCharacters(in: "x") == "")
        #expect(Substring(" v ").trimmingCharacters(in: " ") == "v")
    }
}
