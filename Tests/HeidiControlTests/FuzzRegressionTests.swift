import HeidiCore
import HeidiFuzzing
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The fuzz corpus (contrib/fuzz/corpus, including any saved crash in regressions/) replayed through the request
/// path, plus a seeded in-process mutation run so every `swift test` exercises odd inputs too.
@Suite("Control request path under odd input")
struct FuzzRegressionTests {
    static let corpus: String = {
        // Tests run from the package root.
        FileSystem.currentDirectory() + "/contrib/fuzz/corpus"
    }()

    static func corpusFiles() -> [String] {
        var files: [String] = []
        for directory in [corpus, corpus + "/regressions"] {
            for name in (try? FileSystem.entries(of: directory)) ?? [] {
                if !name.hasPrefix("."), !FileSystem.isDirectory(directory + "/" + name) {
                    files.append(directory + "/" + name)
                }
            }
        }
        return files.sorted()
    }

    @Test func corpusReplaysWithoutCrashing() async throws {
        let files = Self.corpusFiles()
        #expect(files.count >= 6, "corpus at \(Self.corpus)")
        var routed = 0
        for file in files { routed += await ControlFuzzing.route(try FileSystem.read(file)) }
        #expect(routed >= 6, "the seeds are valid requests and reach the router")
    }

    /// A small deterministic mutation fuzzer (xorshift): flips, inserts, deletes and splices bytes of the seeds.
    @Test func seededMutationsNeverCrashTheRequestPath() async throws {
        let seeds = try Self.corpusFiles().map { try FileSystem.read($0) }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        for _ in 0..<1500 {
            var input = seeds[Int(next() % UInt64(seeds.count))]
            for _ in 0..<(1 + next() % 6) {
                guard !input.isEmpty else { break }
                let at = Int(next() % UInt64(input.count))
                switch next() % 5 {
                case 0: input[at] = UInt8(truncatingIfNeeded: next())
                case 1: input.insert(UInt8(truncatingIfNeeded: next()), at: at)
                case 2: input.remove(at: at)
                case 3: input.insert(contentsOf: Array("\r\n".utf8), at: at)
                default: input += seeds[Int(next() % UInt64(seeds.count))]
                }
            }
            await ControlFuzzing.route(input)
        }
    }
}
