import HeidiCore
import HeidiSupervisor
import HeidiTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Output pipeline with real children", .serialized)
struct OutputPipelineTests {
    @Test(arguments: [false, true])
    func everySpewedLineArrivesIntactAndInOrder(perLine: Bool) async throws {
        let count = perLine ? 20_000 : 100_000
        let sink = SequenceSink()
        let stage = try startStage(Fixture.spewer(count: count, perLine: perLine), onOutput: { sink.add($0) })
        let result = await stage.waitForEnd()
        #expect(result.exit.exitCode == 0)
        #expect(sink.problems.isEmpty, "\(sink.problems)")
        #expect(sink.count == count && result.outputLines == Int64(count))
        #expect(result.outputBytes == Int64(count * 70), "70 bytes per line, as logged")
    }

    /// Each pair is written back to back (stdout, then stderr), then the child waits until the reader has taken
    /// both (FIONREAD on its own pipe ends): the order of a pair is knowable only from which pipe became readable
    /// first. With a reader thread per pipe, each delivering on its own schedule (and pausing a millisecond to let
    /// a trickle gather), pairs came out reversed.
    @Test func stdoutAndStderrKeepTheChildsOrderLineByLine() async throws {
        let pairs = 150
        let (lines, _) = try await runSettlingChild(
            """
            for i in range(\(pairs)):
                os.write(1, b"out %d\\n" % i)
                os.write(2, b"err %d\\n" % i)
                settle()
            """
        )
        expectInOrder(lines.map(\.text), (0..<pairs).flatMap { ["out \($0)", "err \($0)"] })
        let wrongStreams = lines.filter { $0.stream != ($0.text.hasPrefix("out") ? .stdout : .stderr) }
        #expect(wrongStreams.isEmpty, "each line keeps its stream: \(wrongStreams.prefix(3))")
    }

    /// A child streams stdout a line per write (tens of kilobytes per millisecond: the reader lets it gather out
    /// of the epoll set), then writes one line to stderr and waits until the reader has taken both. The stdout
    /// lines were all written before the stderr line, so they come first: the pause ends at the stderr line, and
    /// the reader drains the streaming pipe before it (its lines gathered during the pause). Drained in the set's
    /// order instead, the stderr line came first in every round.
    @Test func aStreamingPipeKeepsItsPlaceBeforeTheOtherStream() async throws {
        let rounds = 40
        let (lines, stage) = try await runSettlingChild(
            """
            for r in range(\(rounds)):
                for i in range(1500):
                    os.write(1, b"out %d %d %s\\n" % (r, i, b"x" * 60))
                    if i % 100 == 99: time.sleep(0.0002)
                os.write(2, b"err %d\\n" % r)
                settle()
            """
        )
        let padding = String(repeating: "x", count: 60)
        let expected = (0..<rounds).flatMap { round in
            (0..<1500).map { "out \(round) \($0) \(padding)" } + ["err \(round)"]
        }
        expectInOrder(lines.map(\.text), expected)
        let stdout = try #require(stage.readerActivity.first { $0.stream == .stdout })
        #expect(stdout.streamingPauses > 0, "the stdout pipe never gathered out of the epoll set: nothing was tested")
    }

    /// Runs the Python `body` as a stage's child, with `settle()` defined: wait (up to 5 s) until the reader has
    /// taken all that was written to both pipes (FIONREAD on the child's own ends). Returns the lines as delivered.
    private func runSettlingChild(_ body: String) async throws -> ([OutputLine], RunningStage) {
        let prelude = """
            import fcntl, os, struct, termios, time
            def pending(fd): return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\\0" * 4))[0]
            def settle():
                deadline = time.monotonic() + 5
                while (pending(1) or pending(2)) and time.monotonic() < deadline: time.sleep(0.0002)

            """
        let sink = LineSink()
        let stage = try startStage("exec python3 -c '\(prelude + body)'", sink: sink)
        let result = await stage.waitForEnd()
        #expect(result.exit.exitCode == 0, "\(result.excerpt)")
        return (sink.lines, stage)
    }

    /// Expects the delivered `texts` to be `expected`, naming the first line out of order (not the whole lists).
    private func expectInOrder(
        _ texts: [String],
        _ expected: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let firstDifference = zip(texts, expected).enumerated().first { $0.element.0 != $0.element.1 }
        let inOrder = texts == expected
        #expect(
            inOrder,
            "\(texts.count) of \(expected.count) lines; first out of order: \(firstDifference.map { "line \($0.offset): \($0.element.0)" } ?? "none")",
            sourceLocation: sourceLocation
        )
    }

    /// A flood of clean lines is read straight into the batches it is delivered in: the reader copies only the
    /// lines its reads split and what it reads while the flood starts (the first drain, and any the reader caught
    /// up in). Before, it copied every byte from its read buffer into the batch.
    @Test func aFloodIsReadStraightIntoItsBatches() async throws {
        let count = 200_000
        let sink = SequenceSink()
        let stage = try startStage(Fixture.spewer(count: count, perLine: false), onOutput: { sink.add($0) })
        let result = await stage.waitForEnd()
        #expect(result.exit.exitCode == 0 && sink.problems.isEmpty && sink.count == count, "\(sink.problems)")
        let reader = try #require(stage.readerActivity.first { $0.stream == .stdout })
        #expect(reader.readBytes == count * 70)
        #expect(reader.copiedBytes < reader.readBytes / 4, "\(reader.copiedBytes) of \(reader.readBytes) bytes copied")
    }

    @Test func aMegabyteWithoutNewlineIsCutIntoMarkedPiecesAndNothingIsLost() async throws {
        let sink = LineSink()
        let stage = try startStage(Fixture.hugeLine(bytes: 1_000_000), sink: sink)
        let result = await stage.waitForEnd()
        #expect(result.exit.exitCode == 0)
        let pieces = sink.lines
        #expect(pieces.count == 62, "61 pieces of 16 KiB and the 576-byte rest")
        #expect(pieces.dropLast().allSatisfy { $0.cut && $0.text.utf8.count == LineAssembler.defaultMaxLine })
        #expect(pieces.last?.cut == false)
        #expect(pieces.reduce(0) { $0 + $1.text.utf8.count } == 1_000_000)
        #expect(pieces.allSatisfy { $0.text.allSatisfy { $0 == "x" } })
    }

    @Test func aHungUpPipeAndAQuietOneCostTheReadersNoCPU() async throws {
        // stdout hangs up at once; stderr stays open and silent for three seconds (slack for loaded CI), then says goodbye.
        let stage = try startStage("echo first; exec 1>&-; sleep 3; echo bye >&2")
        #expect(
            eventually { stage.readerActivity.first { $0.stream == .stdout }?.finished == true },
            "the stdout reader ended at EOF instead of polling a hung-up pipe"
        )
        let stderrReader = try #require(stage.readerActivity.first { $0.stream == .stderr })
        #expect(eventually { stage.readerActivity.first { $0.stream == .stderr }?.threadID ?? 0 > 0 })
        let tid = try #require(stage.readerActivity.first { $0.stream == .stderr }?.threadID)
        let before = try #require(threadCPUNanoseconds(tid))
        try await Task.sleep(nanoseconds: 500_000_000)
        let after = try #require(threadCPUNanoseconds(tid), "the quiet reader is still blocked in poll(2)")
        #expect(
            after - before < 20_000_000,
            "a reader blocked on a quiet pipe used \(after - before) ns of CPU in 0.5 s"
        )
        let result = await stage.waitForEnd()
        #expect(result.exit.exitCode == 0 && stderrReader.wakeups == 0)
        for reader in stage.readerActivity {
            #expect(reader.finished)
            #expect(reader.wakeups <= 3, "\(reader.stream) woke \(reader.wakeups) times for one line and EOF")
            #expect(reader.cpuNanoseconds < 50_000_000, "\(reader.stream) reader used \(reader.cpuNanoseconds) ns")
        }
    }

    @Test func aSigpipeVictimDiesOfSIGPIPEEvenThoughTheDaemonIgnoresIt() async throws {
        signal(SIGPIPE, SIG_IGN)  // as NIO and most servers do; SIG_IGN would survive exec without SETSIGDEF
        let sink = LineSink()
        let stage = try startStage(Fixture.sigpipeVictim, sink: sink)
        let result = await stage.waitForEnd()
        #expect(sink.lines.map(\.text) == ["y", "y", "y"], "`yes` died quietly of SIGPIPE: \(sink.lines.map(\.text))")
        #expect(result.exit.signal == Int(SIGPIPE) && result.exit.description == "killed by SIGPIPE")
    }

    @Test func logFilesRotateAtLineBoundariesWithBoundedDiskUse() throws {
        let path = temporaryPath("rotate") + "/stage.log"
        let log = try StageLogFile(path: path, maxSize: 10_000)
        var expected: [String] = []
        for batch in 0..<200 {
            let lines = (0..<7).map { "batch \(batch) line \($0) " + String(repeating: "z", count: batch % 50) }
            expected += lines
            #expect(log.append(Array(lines.map { $0 + "\n" }.joined().utf8)) == nil)
        }
        log.close()
        let current = try FileSystem.read(path)
        let previous = try FileSystem.read(path + ".1")
        #expect(current.count <= 10_000 && previous.count <= 10_000, "\(current.count), \(previous.count)")
        #expect(!FileSystem.exists(path + ".2"))
        let kept = String(decoding: previous + current, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(kept == Array(expected.suffix(kept.count)), "the newest lines, whole and in order")
        #expect(current.last == 0x0a && previous.last == 0x0a)
    }

    @Test func aFullDiskLosesLogBytesVisiblyAndNothingElse() throws {
        let directory = temporaryPath("full")
        try FileSystem.createDirectories(directory)
        let path = directory + "/stage.log"
        #expect(symlink("/dev/full", path) == 0)
        let log = try StageLogFile(path: path, maxSize: 0)
        let failure = log.append(Array("one\ntwo\n".utf8))
        #expect(failure?.errno == ENOSPC)
        #expect(log.unwrittenBytes == 8 && log.lastError?.errno == ENOSPC)
    }

    @Test func invalidUTF8AndEscapesAreCleanedAndSecretsRedactedInBatches() {
        var assembler = LineAssembler()
        var batch = OutputBatch(stream: .stderr)
        let input: [UInt8] =
            Array("plain\n".utf8) + [0xff, 0xfe]
            + Array(" bin\n\u{1b}[31mred\u{1b}[0m\nkey=sk-ABCDEFGHIJKLMNOPQRSTUVWX\r\nk\u{e9}\n".utf8)
        input.withUnsafeBytes { assembler.feed($0, into: &batch) }
        #expect(batch.lines.map(\.text) == ["plain", "\u{FFFD}\u{FFFD} bin", "red", "key=[OPENAI_KEY]", "k\u{e9}"])
        #expect(String(validating: batch.bytes, as: UTF8.self) != nil, "the batch is valid UTF-8")
        #expect(batch.lineCount == 5)
    }

    @Test func aPrivateKeyBlockIsRedactedLineByLine() {
        var assembler = LineAssembler()
        var batch = OutputBatch(stream: .stdout)
        let text =
            "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----\nafter\n"
        Array(text.utf8).withUnsafeBytes { assembler.feed($0, into: &batch) }
        #expect(
            batch.lines.map(\.text) == [
                "before", "[PRIVATE_KEY]", "[PRIVATE_KEY]", "[PRIVATE_KEY]", "[PRIVATE_KEY]", "after",
            ]
        )
    }
}
