import CHeidiShim
import Foundation
import Testing

@testable import HeidiCore

/// The output pipeline's fast path (`Redactor.unchangedLineCount`, over `heidi_scan_text`) against slow, obvious
/// references: it must find every trigger word a naive search finds, and it must never let a line through unchanged
/// that `LineRedactor` would change.
@Suite("Text scan")
struct TextScanTests {
    /// Fragments of training logs and of secrets, so generated lines mix trigger words that start a secret with ones
    /// that do not ("tokens/s", "monkey", "task-1").
    static let fragments =
        SecretPatternsTests.fragments + [
            "tokens/s", "loss", "epoch 3", "step 1200", "lr", "0.0003", "grad_norm", "monkey", "keys", "hotkey",
            "task-1",
            "disk-", "asian", "bearer of", "passwords", "secretary", "Tokenizer", "key_padding_mask", "skip", "ghost",
            "gh", "gl", "pr", "pa", "to", "se", "ke", "be", "as", "ak", "sk", "gi", "y", "Y",
        ]

    static func line(_ random: inout SplitMix) -> String {
        (0..<(1 + Int(random.next() % 20))).map { _ in fragments[Int(random.next() % UInt64(fragments.count))] }
            .joined()
    }

    /// Every occurrence of every trigger word, ASCII case-insensitively, the slow way.
    static func naiveHits(_ bytes: [UInt8]) -> [String] {
        let lowered = bytes.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }
        var found: [String] = []
        for (word, text) in zip(Redactor.triggers, words) {
            for offset in lowered.indices where offset + text.count <= lowered.count {
                var index = 0
                while index < text.count && lowered[offset + index] == text[index] { index += 1 }
                if index == text.count { found.append("\(offset):\(word)") }
            }
        }
        return found
    }

    static let words = Redactor.triggers.map { Array($0.utf8) }

    /// The vector loop runs exactly where the kernel reports AVX2 (its flags in /proc/cpuinfo): the CPU is asked
    /// directly, on the first scan, so a wrong bit there would silently give every scan the scalar loop (or fault).
    @Test func theVectorLoopRunsWhereTheCPUHasAVX2() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ") ?? []
        #expect(!flags.isEmpty, "no flags line in /proc/cpuinfo")
        #if arch(x86_64)
        #expect((heidi_scan_text_is_vectorized() == 1) == flags.contains("avx2"))
        #else
        #expect(heidi_scan_text_is_vectorized() == 0)
        #endif
    }

    @Test(arguments: [false, true])
    func findsEveryTriggerWordAndCountsLinesAndFlags(scalar: Bool) {
        var random = SplitMix(seed: 0x7E47)
        var hitsSeen = 0
        for _ in 0..<1_500 {
            // Random lengths put words across the 32-byte blocks of the vector loop and into its scalar tail.
            var bytes = Array(Self.line(&random).utf8)
            bytes.insert(contentsOf: Array(repeating: UInt8(ascii: "."), count: Int(random.next() % 40)), at: 0)
            let scan = Redactor.textScan(bytes, scalar: scalar)
            let hits = scan.hits.map { "\($0.offset):\($0.word)" }
            #expect(
                hits.sorted() == Self.naiveHits(bytes).sorted(),
                "\(String(decoding: bytes, as: UTF8.self).debugDescription)"
            )
            hitsSeen += hits.count
            #expect(scan.lines == bytes.filter { $0 == 0x0a }.count)
            let flags =
                (bytes.contains(0x1b) ? 1 : 0) | (bytes.contains(0x0d) ? 2 : 0)
                | (bytes.contains { $0 >= 0x80 } ? 4 : 0)
            #expect(scan.flags == Int32(flags))
        }
        #expect(hitsSeen > 2_500, "the generator must reach the trigger words")
    }

    @Test(arguments: [false, true])
    func countsAndFindsAcrossLongBuffers(scalar: Bool) {
        // Longer than the vector loop's 255 steps between read-outs of its newline counters.
        var random = SplitMix(seed: 0x10A6)
        for length in [8_159, 8_160, 8_161, 8_193, 40_000] {
            var bytes: [UInt8] = []
            while bytes.count < length { bytes += Array((Self.line(&random) + "\n").utf8) }
            bytes.removeLast(bytes.count - length)
            let scan = Redactor.textScan(bytes, scalar: scalar)
            #expect(scan.lines == bytes.filter { $0 == 0x0a }.count, "\(length) bytes")
            #expect(
                scan.hits.map { "\($0.offset):\($0.word)" }.sorted() == Self.naiveHits(bytes).sorted(),
                "\(length) bytes"
            )
        }
    }

    /// The fast path's scan (`assignments: true`) leaves out the hits of "token", "key", "secret" and "passw" that no
    /// separator follows. It may leave out only hits from which no secret can start (`mayReplace` false), and must
    /// leave out the harmless ones, or the exact check still runs at every "tokens/s".
    @Test(arguments: [false, true])
    func theFastPathScanDropsOnlyTriggerWordsNoSecretStartsFrom(scalar: Bool) {
        var random = SplitMix(seed: 0xA551)
        var dropped = 0
        var kept = 0
        for _ in 0..<4_000 {
            var bytes = Array(Self.line(&random).utf8)
            bytes.insert(contentsOf: Array(repeating: UInt8(ascii: "."), count: Int(random.next() % 40)), at: 0)
            let all = Redactor.textScan(bytes, scalar: scalar).hits
            let filtered = Redactor.textScan(bytes, scalar: scalar, assignments: true)
            let left = Set(filtered.hits.map { "\($0.offset):\($0.word)" })
            #expect(left.isSubset(of: all.map { "\($0.offset):\($0.word)" }))
            for hit in all where !left.contains("\(hit.offset):\(hit.word)") {
                dropped += 1
                let secret = bytes.withUnsafeBufferPointer { SecretPatterns.mayReplace(in: $0, at: hit.offset) }
                #expect(
                    !secret && hit.word != "private key",
                    "dropped \(hit.word) at \(hit.offset) of \(String(decoding: bytes, as: UTF8.self).debugDescription)"
                )
            }
            kept += left.count
        }
        #expect(dropped > 1_000, "harmless trigger words must be dropped (\(dropped))")
        #expect(kept > 1_000, "\(kept)")
    }

    /// Assignments at every offset of a training-log line, with every separator spelling and the name running into
    /// the end of the buffer: the fast path must send each line with a secret the slow way, exactly as a scan of
    /// every trigger word with the exact check at each did before the scan filtered them.
    @Test func assignmentsAtEveryOffsetTakeTheSlowPath() {
        let line = Array("step 000001234 loss 0.4312 lr 3e-04 tokens/s 51234 elapsed 00:12:31 k".utf8)
        let secrets = [
            "token=abc", "TOKEN: x", "api_key =\"v\"", "secret_key\t:\t'v'", "PASSWD= v", "x.token'=v",
            "my-Key  :  v", "access_key\n=v", "password\"=v", "token=[REDACTED]", "tokens=abc", "tokenizer: x",
            "token", "key", "api_key=", "secret :",
        ]
        for secret in secrets {
            for offset in 0...line.count {
                for ending in ["", "\n"] {
                    var bytes = line
                    bytes.insert(contentsOf: Array(secret.utf8), at: offset)
                    bytes += Array(ending.utf8)
                    let fast = bytes.withUnsafeBufferPointer { Redactor.unchangedLineCount($0) }
                    #expect(
                        (fast == nil) == Self.slowPathBeforeTheFilter(bytes),
                        "\(String(decoding: bytes, as: UTF8.self).debugDescription)"
                    )
                }
            }
        }
    }

    /// What `unchangedLineCount` decided before its scan left hits out: nil (the slow path) when any byte needs more
    /// than a copy, any hit is the private key trigger, or the exact check says a secret may start at any hit.
    static func slowPathBeforeTheFilter(_ bytes: [UInt8]) -> Bool {
        let scan = Redactor.textScan(bytes)
        guard scan.flags == 0 else { return true }
        return scan.hits.contains { hit in
            hit.word == "private key"
                || bytes.withUnsafeBufferPointer { SecretPatterns.mayReplace(in: $0, at: hit.offset) }
        }
    }

    /// A training log's progress lines: the fast path's scan leaves no trigger word for the exact check (the
    /// "tokens/s" of every line used to cost one), across the vector loop's blocks and its scalar tail.
    @Test(arguments: [false, true])
    func aTrainingLogLeavesNoTriggerWordForTheExactCheck(scalar: Bool) {
        var bytes: [UInt8] = []
        for step in 0..<300 {
            bytes += Array("step \(100_000 + step) loss 0.4312 lr 3e-04 tokens/s 51234 elapsed 00:12:31 k\n".utf8)
        }
        #expect(Redactor.textScan(bytes, scalar: scalar).hits.count == 300)
        #expect(Redactor.textScan(bytes, scalar: scalar, assignments: true).hits.isEmpty)
        #expect(bytes.withUnsafeBufferPointer { Redactor.unchangedLineCount($0) } == 300)
    }

    @Test func aLineGoesThroughUnchangedOnlyWhenRedactionWouldLeaveIt() {
        var random = SplitMix(seed: 0xFA57)
        var fastWithTrigger = 0
        var slow = 0
        for _ in 0..<8_000 {
            let text = Self.line(&random).replacing("\n", with: " ").replacing("\r", with: " ")
            let bytes = Array(text.utf8)
            let fast = bytes.withUnsafeBufferPointer { Redactor.unchangedLineCount($0) }
            var redactor = LineRedactor()
            if fast != nil {
                #expect(
                    redactor.redact(text) == text,
                    "passed unchanged but redaction changes \(text.debugDescription)"
                )
                #expect(!bytes.contains { $0 >= 0x80 || $0 == 0x1b })
                if !Redactor.textScan(bytes).hits.isEmpty { fastWithTrigger += 1 }
            } else {
                slow += 1
            }
        }
        // Both ways must be taken often, or the comparison proves little.
        #expect(
            fastWithTrigger > 800,
            "lines with a harmless trigger word must take the fast path (\(fastWithTrigger))"
        )
        #expect(slow > 800, "\(slow)")
    }

    @Test func aStretchOfLinesGoesThroughUnchangedOnlyWhenEveryLineWould() {
        // ASCII fragments only, so that whole stretches often qualify, trigger words and all.
        let ascii = Self.fragments.filter { $0.utf8.allSatisfy { $0 < 0x80 && $0 != 0x1b && $0 != 0x0d && $0 != 0x0a } }
        var random = SplitMix(seed: 0x57E7C4)
        var fast = 0
        for _ in 0..<2_000 {
            let lines = (0..<(1 + Int(random.next() % 8))).map { _ in
                (0..<(1 + Int(random.next() % 12))).map { _ in ascii[Int(random.next() % UInt64(ascii.count))] }
                    .joined()
            }
            let bytes = Array(lines.map { $0 + "\n" }.joined().utf8)
            guard let count = bytes.withUnsafeBufferPointer({ Redactor.unchangedLineCount($0) }) else { continue }
            fast += 1
            #expect(count == lines.count)
            var redactor = LineRedactor()
            for line in lines {
                #expect(redactor.redact(line) == line, "passed unchanged in a stretch: \(line.debugDescription)")
            }
        }
        #expect(fast > 200, "\(fast)")
    }

    @Test(arguments: [
        "epoch 3 step 1200 loss 0.4312 tokens/s 51234.5", "y", "monkey keys hotkey", "task-12 disk-3",
        "bearer of bad news",
        "max_tokens: 512", "Tokenizer loaded", "secretary passwords", "12345",
    ])
    func harmlessTriggerWordsTakeTheFastPath(_ line: String) {
        let lines = Array((line + "\n" + line + "\n").utf8)
        #expect(lines.withUnsafeBufferPointer { Redactor.unchangedLineCount($0) } == 2)
    }

    @Test(arguments: [
        "token=abc", "API_KEY: 'xyz'", "sk-abcdefghijABCDEFGHIJ0123", "Bearer abcdefghijklmnop1234",
        "AKIAABCDEFGHIJKLMNOP",
        "ghp_abcdefghijABCDEFGHIJ0123456789", "-----BEGIN PRIVATE KEY-----", "private key", "\u{1B}[31mred", "a\rb",
        "é",
    ])
    func anythingRedactionOrDecodingMayChangeTakesTheSlowPath(_ line: String) {
        let lines = Array(("fine\n" + line + "\nfine too\n").utf8)
        #expect(lines.withUnsafeBufferPointer { Redactor.unchangedLineCount($0) } == nil)
    }
}
