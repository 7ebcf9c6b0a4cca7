import HeidiCore
import HeidiTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `GET /api/v1/logs` and `heidictl logs`: whole logs across rotation, to readers of any speed, in bounded daemon
/// memory; followers that end with their stage; followers that give up on a daemon gone for good.
@Suite(.serialized)
struct LogServingTests {
    /// heidid's resident set in KiB.
    static func rss(_ pid: pid_t) -> Int {
        guard let text = try? FileSystem.read("/proc/\(pid)/status") else { return 0 }
        let line = String(decoding: text, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        return line.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
    }

    /// Reads `GET target` with `Connection: close` 64 KiB at a time, 2 ms between reads and a pause of `pause`
    /// seconds at each third; returns the decoded chunked body and whether it ended with the terminating chunk.
    /// `duringPause` runs in each pause.
    static func readSlowly(
        _ socketPath: String,
        _ target: String,
        pause: Double,
        duringPause: () -> Void
    ) -> (body: [UInt8], terminated: Bool) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        let connected = withUnixAddress(socketPath) { connect(fd, $0, $1) } == 0
        guard connected else { return ([], false) }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("GET \(target) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var raw: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var reads = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            raw += buffer[0..<n]
            reads += 1
            usleep(2000)
            if reads == 40 || reads == 80 {
                usleep(UInt32(pause * 1e6))
                duringPause()
            }
        }
        guard let headEnd = raw.firstRange(of: Array("\r\n\r\n".utf8)) else { return ([], false) }
        var body: [UInt8] = []
        var index = headEnd.upperBound
        while let lineEnd = raw[index...].firstRange(of: Array("\r\n".utf8)),
            let size = Int(String(decoding: raw[index..<lineEnd.lowerBound], as: UTF8.self), radix: 16)
        {
            index = lineEnd.upperBound
            if size == 0 { return (body, raw[index...].starts(with: Array("\r\n".utf8))) }
            guard index + size <= raw.count else { break }
            body += raw[index..<(index + size)]
            index += size + 2
        }
        return (body, false)
    }

    @Test("a rotated multi-MB log is served whole to slow and fast readers, heidid's memory stays bounded")
    func bigRotatedLogWholeAndBounded() async throws {
        let s = try Session()
        defer { s.tearDown() }
        let gate = s.dir.file("gate")
        let lines = 1_200_000
        try s.writeConfig(
            TestConfig.shell(stages: [
                .generate: "seq 1 \(lines) | sed 's/^/line number /'; " + TestConfig.waitFor(gate: gate)
            ]).replacing("logs: {journald: false}", with: "logs: {journald: false, max_size: 8MiB}")
        )
        let daemon = try await s.startDaemon()
        #expect(try await s.ctl("start").status == 0)
        let status = try await s.waitForStatus("generate running") { $0.stage == "generate" }
        let log = "\(s.stateDir)/runs/\(status.runID ?? "")/logs/round-1/generate.log"
        try await s.waitUntil("the whole output in the log") {
            let end = Array("line number \(lines)\n".utf8)
            return ((try? FileSystem.read(log)) ?? []).suffix(end.count).elementsEqual(end) ? true : nil
        }
        let expected = try FileSystem.read(log + ".1") + FileSystem.read(log)
        #expect(expected.count > 12 << 20, "the test needs a log of more than 12 MiB across rotation")
        let baseline = Self.rss(daemon.pid)

        let socket = s.socket
        let peak = Mutex(0)
        let pid = daemon.pid
        let slow = await Blocking.run {
            Self.readSlowly(socket, "/api/v1/logs?stage=generate", pause: 1) {
                peak.withLock { $0 = max($0, Self.rss(pid)) }
            }
        }
        #expect(slow.terminated, "the chunked body ends with its terminating chunk")
        let wholeSlow = slow.body == expected
        #expect(wholeSlow, "a slow reader gets \(slow.body.count) of \(expected.count) bytes")
        for _ in 0..<3 {
            let full = try await s.ctl("logs", "generate")
            #expect(full.status == 0, "\(full.stderr)")
            let whole = full.stdoutBytes == expected
            #expect(whole, "heidictl logs printed \(full.stdoutBytes.count) of \(expected.count) bytes")
            #expect(
                full.stderr.contains("rotated") && full.stderr.contains(".log.1"),
                "says what the rotation left out: \(full.stderr)"
            )
            peak.withLock { $0 = max($0, Self.rss(pid)) }
        }
        let lastLines = Array(expected.split(separator: 0x0a).suffix(600).map { Array($0) + [0x0a] }.joined())
        for _ in 0..<5 {
            let tail = try await s.ctl("logs", "generate", "-n", "600")
            #expect(
                tail.status == 0 && tail.stdoutBytes == lastLines,
                "-n 600: exit \(tail.status), \(tail.stdoutBytes.count) bytes; \(tail.stderr)"
            )
        }
        let growth = peak.withLock { $0 } - baseline
        #expect(growth < 16 * 1024, "heidid grew by \(growth) KiB while serving a \(expected.count >> 20) MiB log")
        try s.openGate(gate)
    }

    @Test("logs -f ends when its stage ends, with an exit status and a message saying how")
    func followerEndsWithItsStage() async throws {
        let s = try Session()
        defer { s.tearDown() }
        let gates = s.dir.file("gate-")
        let failFlag = s.dir.file("fail")
        try s.writeConfig(
            TestConfig.shell(stages: [
                .generate: "echo first; " + TestConfig.waitFor(gate: gates + "$HEIDI_RUN_ID")
                    + "; echo last; [ -e \(failFlag) ] && exit 3; exit 0"
            ])
        )
        try await s.startDaemon()
        for failing in [false, true] {
            if failing { try s.openGate(failFlag) }
            #expect(try await s.ctl("start").status == 0)
            let status = try await s.waitForStatus("generate running") { $0.stage == "generate" }
            let follower = try s.background("logs", "-f")
            defer { follower.stop() }
            try await s.waitUntil("the follower to print the first line") {
                follower.stdout.contains("first") ? true : nil
            }
            try s.openGate(gates + (status.runID ?? ""))
            let exit = await follower.exit(within: Session.patience)
            let stderr = follower.stderr
            #expect(follower.stdout == "first\nlast\n")
            if failing {
                #expect(exit == 1, "a failed stage: exit 1; stderr: \(stderr)")
                #expect(stderr.contains("generate (round 1) ended: failed (exit 3)"), "\(stderr)")
            } else {
                #expect(exit == 0, "a stage that succeeded: exit 0; stderr: \(stderr)")
                #expect(stderr.contains("generate (round 1) finished: exit 0"), "\(stderr)")
                try await s.waitForStatus("the run to end") { $0.state == .idle }
            }
        }
        try await s.waitForStatus("ERROR") { $0.state == .error }
        let notRun = try await s.ctl("logs", "-f", "train", "--round", "1")
        #expect(notRun.status == 1 && notRun.stderr.contains("train (round 1) did not run"), "\(notRun)")
    }

    @Test("events -f gives up on a daemon that stays away, with a message and exit 3")
    func eventFollowerGivesUp() async throws {
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell())
        try await s.startDaemon()
        let follower = try s.background("events", "-f", "--reconnect-timeout", "1s")
        defer { follower.stop() }
        try await s.waitUntil("the follower to print daemon_start") {
            follower.stdout.contains("daemon_start") ? true : nil
        }
        try await s.stopDaemon()
        let exit = await follower.exit(within: Session.patience)
        let stderr = follower.stderr
        #expect(exit == 3, "exit \(exit.map(String.init) ?? "none (still running)"); stderr: \(stderr)")
        #expect(stderr.contains("gave up after 1.0s without heidid") || stderr.contains("gave up after"), "\(stderr)")
        #expect(stderr.contains(s.socket), "names the socket: \(stderr)")
    }
}
