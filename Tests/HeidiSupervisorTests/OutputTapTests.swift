import HeidiCore
import HeidiSupervisor
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The raw output tap (what `progress:` reads): every byte of both pipes as read, carriage returns intact, while the
/// logged lines are assembled as before.
@Suite("Output tap with real children")
struct OutputTapTests {
    @Test func theTapSeesEveryRawByteOfBothPipesInOrder() async throws {
        TreeKiller.becomeSubreaper()
        let seen = Mutex<[OutputStream: [UInt8]]>([:])
        let sink = LineSink()
        let bar = " 1/3 [00:00<00:02]\r 2/3 [00:01<00:01]\r 3/3 [00:02<00:00]\n"
        let script = "printf '\(bar)' >&2; sleep 0.1; printf 'out\\nput'"
        let spec = LaunchSpec(
            argv: ["/bin/sh", "-c", script],
            environment: ["PATH": "/usr/bin:/bin"],
            workingDirectory: "/tmp"
        )
        let stage = try RunningStage.start(
            spec,
            instanceToken: "tap\(getpid())",
            timeout: 10,
            grace: 1,
            tap: { stream, bytes in seen.withLock { $0[stream, default: []] += Array(bytes) } },
            logger: Logger(label: "test"),
            onOutput: { sink.add($0) }
        )
        let result = await stage.waitForEnd()
        #expect(result.exit.succeeded)
        let raw = seen.withLock { $0 }
        #expect(raw[.stderr] == Array(bar.utf8), "carriage returns reach the tap as written")
        #expect(raw[.stdout] == Array("out\nput".utf8), "so does an unterminated end")
        // The logged lines are unchanged by the tap: one stderr line (the redraws in it), two stdout lines.
        #expect(sink.lines.filter { $0.stream == .stderr }.count == 1)
        #expect(sink.lines.filter { $0.stream == .stdout }.map(\.text) == ["out", "put"])
    }
}
