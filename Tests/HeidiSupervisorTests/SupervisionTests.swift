import HeidiCore
import HeidiSupervisor
import HeidiTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Real-process supervision", .serialized)
struct SupervisionTests {
    @Test func capturesBothStreamsAndTheExitCode() async throws {
        let sink = LineSink()
        let stage = try startStage("echo out1; echo err1 >&2; printf 'no-newline'; exit 3", sink: sink)
        let result = await stage.waitForEnd()
        #expect(result.ending == .exited)
        #expect(result.exit.exitCode == 3 && result.exit.signal == nil)
        let texts = sink.lines.map(\.text)
        #expect(texts.contains("out1") && texts.contains("err1") && texts.contains("no-newline"))
        #expect(sink.lines.first { $0.text == "err1" }?.stream == .stderr)
        #expect(result.excerpt.contains("err1"))
        #expect(result.outputLines == 3)
    }

    @Test func childRunsInItsOwnSessionWithACleanEnvironment() async throws {
        let sink = LineSink()
        let script = """
            ls /proc/self/fd | wc -l; readlink /proc/self/fd/0; echo "notify=${NOTIFY_SOCKET:-unset} stream=${JOURNAL_STREAM:-unset}"
            echo "stage=$HEIDI_STAGE py=$PYTHONUNBUFFERED"; grep -E '^(SigIgn|SigBlk)' /proc/self/status; sleep 0.3
            """
        // SIG_IGN survives exec: the daemon ignores signals (ServiceLifecycle does), the child must not.
        signal(SIGUSR2, SIG_IGN)
        defer { signal(SIGUSR2, SIG_DFL) }
        let stage = try startStage(script, sink: sink)
        let info = try #require(ProcessTable.info(stage.child.pid))
        #expect(info.group == stage.child.pid && info.session == stage.child.pid, "leader of its own session and group")
        let result = await stage.waitForEnd()
        #expect(result.exit.exitCode == 0)
        let texts = sink.lines.map(\.text)
        // ls itself holds 0,1,2 and the directory it lists: 4 entries means nothing else was inherited.
        #expect(texts.first == "4", "\(texts)")
        #expect(texts.contains("/dev/null"))
        #expect(texts.contains("notify=unset stream=unset"))
        #expect(texts.contains("stage=test py=1"))
        // Every signal at SIG_DFL and none blocked, glibc's reserved 32 and 33 included (posix_spawn leaves those
        // ignored, and SIG_IGN survives exec: the exec helper resets them).
        func mask(_ name: String) -> UInt64? {
            texts.first { $0.hasPrefix(name + ":") }.flatMap {
                UInt64($0.dropFirst(name.count + 1).trimmingPrefix("\t"), radix: 16)
            }
        }
        #expect(try #require(mask("SigIgn")) == 0, "\(texts.filter { $0.hasPrefix("Sig") })")
        #expect(try #require(mask("SigBlk")) == 0)
    }

    @Test func timeoutEscalatesToSIGKILLForATermIgnoringTree() async throws {
        let pidFile = temporaryPath("grandchild")
        let start = MonotonicClock.nanoseconds()
        let stage = try startStage(Fixture.termIgnorer(pidFile: pidFile), timeout: 0.5, grace: 0.5)
        let grandchild = try #require(await PidFile.read(pidFile))
        let result = await stage.waitForEnd()
        let seconds = Double(MonotonicClock.nanoseconds() - start) / 1e9
        #expect(result.ending == .timedOut)
        #expect(result.exit.signal == Int(SIGKILL))
        // Without the SIGKILL escalation the stage would never end; the upper bound only catches a wait far beyond
        // timeout + grace (generous: the suite shares two busy cores).
        #expect(seconds >= 0.9 && seconds < 30, "timeout 0.5 s + grace 0.5 s, took \(seconds)")
        #expect(!isAlive(grandchild), "a TERM-ignoring grandchild must not survive")
        #expect(result.survivors.isEmpty)
    }

    @Test func doubleForkedSetsidEscaperIsKilledWhenTheStageEnds() async throws {
        let pidFile = temporaryPath("escaper")
        // The subshell forks, the escaper calls setsid (new session, not in the stage's group), the leader exits.
        let script = Fixture.setsidEscaper(pidFile: pidFile) + "; sleep 0.3; echo leader-done"
        let stage = try startStage(script)
        let escaper = try #require(await PidFile.read(pidFile))
        let info = try #require(ProcessTable.info(escaper))
        #expect(info.session != stage.child.pid, "the escaper left the stage's session")
        let result = await stage.waitForEnd()
        #expect(result.exit.exitCode == 0)
        #expect(!isAlive(escaper), "setsid escaper survived the stage end")
        #expect(ProcessTable.info(escaper) == nil, "the escaper was reaped, not left as a zombie")
    }

    @Test func stopTerminatesTheGroupWithinTheGrace() async throws {
        let stage = try startStage("sleep 600 & sleep 600 & wait", grace: 120)
        try await Task.sleep(nanoseconds: 200_000_000)
        let start = MonotonicClock.nanoseconds()
        stage.requestStop()
        let result = await stage.waitForEnd()
        let seconds = Double(MonotonicClock.nanoseconds() - start) / 1e9
        #expect(result.ending == .stopped)
        #expect(result.exit.signal == Int(SIGTERM))
        #expect(seconds < 60, "SIGTERM is honoured at once, not after the 120 s grace; took \(seconds)")
        let group = stage.child.pid
        #expect(!ProcessTable.all().contains { $0.group == group && !$0.isZombie }, "no member of the group is left")
    }

    @Test func aChildThatClosesItsOutputEarlyIsStillSupervised() async throws {
        let start = MonotonicClock.nanoseconds()
        let stage = try startStage(Fixture.earlyCloser(seconds: 0.6, exitCode: 4))
        let result = await stage.waitForEnd()
        let seconds = Double(MonotonicClock.nanoseconds() - start) / 1e9
        #expect(result.exit.exitCode == 4, "the exit status is still observed")
        #expect(seconds >= 0.5, "the stage is not considered over when its pipes close")
    }

    @Test func longLinesAreCutAndBinaryIsSafe() async throws {
        let sink = LineSink()
        let stage = try startStage(#"head -c 40000 /dev/zero | tr '\0' x; printf '\377\376 bin\n'"#, sink: sink)
        let result = await stage.waitForEnd()
        #expect(result.exit.exitCode == 0)
        let pieces = sink.lines.filter { $0.text.hasPrefix("x") }
        #expect(pieces.count == 3, "40000 bytes → 16384 + 16384 + 7232")
        #expect(pieces.first?.cut == true && pieces.first?.text.utf8.count == 16384)
        #expect(sink.lines.contains { $0.text.contains("\u{FFFD}") && $0.text.hasSuffix(" bin") })
    }

    @Test func aCommandThatDoesNotExistIsASpawnError() {
        let spec = LaunchSpec(argv: ["/nonexistent/heidi-stage"], environment: [:], workingDirectory: nil)
        #expect(throws: SpawnError.self) { try ChildProcess.spawn(spec) }
        do { _ = try ChildProcess.spawn(spec) } catch {
            #expect(error.errno == ENOENT && "\(error)".contains("not found"))
        }
    }
}

@Suite("Line assembly")
struct LineAssemblyTests {
    @Test func linesAcrossReads() {
        var assembler = LineAssembler(maxLine: 8)
        #expect(assembler.feed(Array("ab".utf8)).isEmpty)
        #expect(assembler.feed(Array("c\nde\r\n".utf8)).map(\.text) == ["abc", "de"])
        // A long line is cut once the lookahead past the limit has arrived, or when it ends.
        #expect(assembler.feed(Array("0123456789".utf8)).isEmpty)
        var batch = OutputBatch(stream: .stdout)
        assembler.finish(into: &batch)
        #expect(batch.lines.map(\.text) == ["01234567", "89"] && batch.lines.map(\.cut) == [true, false])
    }

    /// A secret that straddles the line limit is never split between two pieces (each piece is redacted on its
    /// own, so neither half would be recognised): for every position of the secret around the cut, at the real
    /// 16 KiB limit and a small one, read whole or byte by byte, no piece holds any 6 characters of it.
    @Test(arguments: [LineAssembler.defaultMaxLine, 64])
    func aSecretAcrossTheCutIsNeverSplit(maxLine: Int) {
        let body = "Zq7Xw2Lp9Rt4Vb8Nm3Kc6Hs1Jd5Fg0Ty"
        let secrets = [
            "sk-" + body, "OPENAI_API_KEY=" + body, "Authorization: Bearer " + body, "ghp_" + body,
            "-----BEGIN PRIVATE KEY-----" + body + "-----END PRIVATE KEY-----", "password: \"" + body + "\"",
        ]
        // Every 6 consecutive characters of the secret's body, as a number, to look for in one pass over a piece.
        func windows(_ bytes: some Collection<UInt8>) -> [UInt64] {
            var value: UInt64 = 0
            return bytes.enumerated().compactMap { index, byte in
                value = (value << 8 | UInt64(byte)) & 0xFFFF_FFFF_FFFF
                return index >= 5 ? value : nil
            }
        }
        let secretWindows = Set(windows(Array(body.utf8)))
        for secret in secrets {
            // Every position at the small limit; every fifth at the real one (a 24 KiB line each, in a debug build).
            for offset in stride(from: max(-maxLine, -secret.utf8.count - 2), through: 2, by: maxLine == 64 ? 1 : 5) {
                let before = String(repeating: ".", count: maxLine + offset)
                let line = before + secret + " after " + String(repeating: "=", count: maxLine / 2)
                for whole in [true, false] where whole || maxLine == 64 {
                    var assembler = LineAssembler(maxLine: maxLine)
                    var batch = OutputBatch(stream: .stdout)
                    let bytes = Array((line + "\n").utf8)
                    if whole {
                        bytes.withUnsafeBytes { assembler.feed($0, into: &batch) }
                    } else {
                        for byte in bytes { [byte].withUnsafeBytes { assembler.feed($0, into: &batch) } }
                    }
                    let pieces = batch.lines
                    let leaked = pieces.filter { piece in
                        windows(piece.text.utf8).contains(where: secretWindows.contains)
                    }
                    #expect(leaked.isEmpty, "\(secret) at \(maxLine + offset): \(leaked.map { $0.text.suffix(60) })")
                    #expect(pieces.allSatisfy { $0.text.utf8.count <= maxLine }, "\(pieces.map(\.text.utf8.count))")
                    #expect(
                        pieces.map(\.text).joined().hasSuffix(" after " + String(repeating: "=", count: maxLine / 2)),
                        "nothing else is lost"
                    )
                }
            }
        }
    }

    /// A "secret" longer than a line may be cannot be kept whole: its pieces are replaced, and so is what
    /// continues it after the cut, up to where the value ends.
    @Test func aSecretLongerThanTheLimitIsRedactedAcrossEveryCut() {
        var assembler = LineAssembler(maxLine: 64)
        var batch = OutputBatch(stream: .stdout)
        let value = String(repeating: "AbC9", count: 100)
        let bytes = Array(("x TOKEN=" + value + " tail\n").utf8)
        for byte in bytes { [byte].withUnsafeBytes { assembler.feed($0, into: &batch) } }
        let text = batch.lines.map(\.text)
        #expect(!text.contains { $0.contains("AbC9") }, "\(text)")
        #expect(text.last == " tail" && text.first?.hasPrefix("x ") == true, "\(text)")
    }

    @Test func cutsNeverSplitACharacter() {
        var assembler = LineAssembler(maxLine: 8)
        let lines = assembler.feed(Array("abcdeé€x\n".utf8))
        #expect(lines.allSatisfy { !$0.text.contains("\u{FFFD}") }, "\(lines)")
        #expect(lines.map(\.text).joined() == "abcdeé€x")
    }

    /// Reading straight into the batch (`fill`, the reader's path in a flood) gives the same bytes as `feed` of the
    /// whole input, whatever the read sizes, batch capacities and hand-overs to `feed`: secrets, cuts, private
    /// keys, carriage returns and invalid UTF-8 included, at a small limit (every line near a cut) and the real one.
    @Test(arguments: [32, LineAssembler.defaultMaxLine])
    func readingIntoTheBatchAgreesWithFeedingWhateverTheBoundaries(maxLine: Int) {
        var generator = SystemRandomNumberGenerator()
        let kinds: [String] = [
            "0000123 4567", "step 10 loss 0.25 tokens/s 9", "token=abcdef123", "sk-ABCDEFGHIJKLMNOPQRSTUVWX here",
            "carriage\r", "\u{1b}[1mbold\u{1b}[0m", "caf\u{e9} \u{2588}", "", String(repeating: "9", count: 40),
            "-----BEGIN PRIVATE KEY-----", "QUJD", "-----END PRIVATE KEY-----",
            "x TOKEN=" + String(repeating: "Ab9", count: 30),
        ]
        var input: [UInt8] = []
        for _ in 0..<4000 { input += Array((kinds.randomElement(using: &generator) ?? "").utf8) + [0x0a] }
        input += Array(repeating: UInt8(ascii: "7"), count: 40_000) + [0x0a, 0xff, 0x0a] + Array("no newline".utf8)
        var expected = OutputBatch(stream: .stdout)
        var reference = LineAssembler(maxLine: maxLine)
        input.withUnsafeBytes { reference.feed($0, into: &expected) }
        reference.finish(into: &expected)
        for _ in 0..<20 {
            var assembler = LineAssembler(maxLine: maxLine)
            var all = OutputBatch(stream: .stdout)
            var offset = 0
            while offset < input.count {
                var batch = OutputBatch(stream: .stdout)
                var stop = false
                let before = offset
                assembler.fill(&batch, capacity: Int.random(in: 1...3000, using: &generator)) { space in
                    guard !stop, offset < input.count else { return 0 }
                    let n = min(space.count, Int.random(in: 1...700, using: &generator), input.count - offset)
                    input[offset..<(offset + n)].withUnsafeBytes { space.copyMemory(from: $0) }
                    offset += n
                    stop = Int.random(in: 0..<4, using: &generator) == 0
                    return n
                }
                if offset == before || Bool.random(using: &generator) {  // the reader reads on and feeds
                    let end = min(input.count, offset + Int.random(in: 1...700, using: &generator))
                    input[offset..<end].withUnsafeBytes { assembler.feed($0, into: &batch) }
                    offset = end
                }
                all.bytes += batch.bytes
                all.lineCount += batch.lineCount
            }
            assembler.finish(into: &all)
            #expect(
                all == expected,
                "\(all.bytes.count) bytes in \(all.lineCount) lines, \(expected.bytes.count) expected"
            )
        }
    }

    /// On the fast path only a line a read boundary splits is copied in user space: the rest stays where the read
    /// put it, in the batch that is delivered (before `fill`, every byte was copied from the read buffer).
    @Test func readingIntoTheBatchCopiesOnlyTheSplitLines() {
        let line = Array("step 000001234 loss 0.4312 lr 3e-04 tokens/s 51234 elapsed 00:12:31 k\n".utf8)
        let input = Array((0..<15_000).map { _ in line }.joined())  // ~1 MB
        var assembler = LineAssembler()
        var offset = 0
        var lines = 0
        while offset < input.count {
            var batch = OutputBatch(stream: .stdout)
            assembler.fill(&batch, capacity: 4 * 65_536) { space in
                let n = min(space.count, 65_536, input.count - offset)
                input[offset..<(offset + n)].withUnsafeBytes { space.copyMemory(from: $0) }
                offset += n
                return n
            }
            lines += batch.lineCount
        }
        #expect(lines == 15_000)
        #expect(assembler.copiedBytes < 2 * line.count * 4, "\(assembler.copiedBytes) of \(input.count) bytes copied")
    }

    @Test func theFastPathAndTheLineByLinePathAgreeWhateverTheReadBoundaries() {
        var generator = SystemRandomNumberGenerator()
        let kinds: [String] = [
            "0000123 4567", "step 10 loss 0.25", "token=abcdef123", "sk-ABCDEFGHIJKLMNOPQRSTUVWX here",
            "carriage\r", "\u{1b}[1mbold\u{1b}[0m", "caf\u{e9} \u{2588}\u{2588}", "", "...;;;---",
            String(repeating: "9", count: 40), "-----BEGIN PRIVATE KEY-----", "QUJD", "-----END PRIVATE KEY-----",
        ]
        var input: [UInt8] = []
        for _ in 0..<3000 { input += Array((kinds.randomElement(using: &generator) ?? "").utf8) + [0x0a] }
        input += [0xff, 0x0a] + Array(repeating: UInt8(ascii: "7"), count: 40) + [0x0a]
        func run(_ chunks: [Int]) -> OutputBatch {
            var assembler = LineAssembler(maxLine: 32)
            var batch = OutputBatch(stream: .stdout)
            var offset = 0
            for size in chunks where offset < input.count {
                let end = min(input.count, offset + size)
                input[offset..<end].withUnsafeBytes { assembler.feed($0, into: &batch) }
                offset = end
            }
            input[offset...].withUnsafeBytes { assembler.feed($0, into: &batch) }
            assembler.finish(into: &batch)
            return batch
        }
        let whole = run([input.count])
        #expect(run(Array(repeating: 1, count: input.count)) == whole, "byte by byte")
        #expect(run((0..<2000).map { _ in Int.random(in: 1...200, using: &generator) }) == whole, "random reads")
        let text = String(decoding: whole.bytes, as: UTF8.self)
        #expect(!text.contains("ABCDEFGHIJKLMNOPQRSTUVWX"), "secrets are redacted")
        #expect(!whole.bytes.contains(0x0d) && !whole.bytes.contains(0x1b), "carriage returns and escapes are gone")
        #expect(whole.lines.allSatisfy { $0.text.utf8.count <= 32 })
    }

    @Test func tailKeepsTheLastCompleteLines() {
        var tail = OutputTail(capacity: 20)
        for i in 0..<100 { tail.append(Array("line \(i)\n".utf8)) }
        #expect(tail.lines.last == "line 99")
        #expect(tail.lines.count <= 3 && tail.lines.allSatisfy { $0.hasPrefix("line ") })
    }
}
