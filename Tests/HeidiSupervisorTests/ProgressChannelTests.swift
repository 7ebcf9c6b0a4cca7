import CHeidiShim
import HeidiCore
import HeidiSupervisor
import HeidiTestSupport
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The sender every fixture uses: the five-line Python example of the README.
private let notifyPython = """
    import os, socket
    def notify(message):
        address = os.environ["HEIDI_NOTIFY_SOCKET"]
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(message.encode(), "\\0" + address[1:] if address.startswith("@") else address)
    """

/// Runs `body` (Python, after the `notify` helper) as a stage with a progress channel.
private func startNotifyingStage(
    _ body: String,
    watchdog: Double? = nil,
    timeout: Double = 30,
    grace: Double = 1,
    directory: String = "/tmp",
    onStatusChange: @escaping @Sendable () -> Void = {}
) throws -> RunningStage {
    let script = notifyPython + "\n" + body
    let path = temporaryPath("notify.py")
    try FileSystem.writeAtomically(path, Array(script.utf8))
    return try startStage(
        "exec python3 \(path)",
        timeout: timeout,
        grace: grace,
        progress: ProgressChannelSettings(directory: directory, watchdog: watchdog, onStatusChange: onStatusChange)
    )
}

struct StageNotificationParsingTests {
    @Test(
        "datagrams parse like sd_notify",
        arguments: [
            ("STATUS=generating 3/10", "generating 3/10", [:], false, false),
            ("READY=1\nSTATUS=up", "up", [:], true, false),
            ("WATCHDOG=1", nil, [:], false, true),
            ("X_HEIDI_COUNTERS={\"a\":1,\"b\":2.5}", nil, ["a": 1, "b": 2.5], false, false),
            ("UNKNOWN=1\nSTATUS=x", "x", [:], false, false),
            ("READY=0\nWATCHDOG=0", nil, [:], false, false),
            ("STATUS=", "", [:], false, false),
            ("STATUS=a\u{7}b\tc", "a b c", [:], false, false),
        ] as [(String, String?, [String: Double], Bool, Bool)]
    )
    func parse(text: String, status: String?, counters: [String: Double], ready: Bool, ping: Bool) {
        let parsed = StageNotification.parse(Array(text.utf8))
        #expect(parsed.status == status)
        #expect(parsed.counters == counters)
        #expect(parsed.ready == ready)
        #expect(parsed.watchdogPing == ping)
        #expect(parsed.problems.isEmpty)
    }

    @Test(
        "malformed numbers are reported and dropped, the rest applies",
        arguments: [
            "X_HEIDI_COUNTERS=not json",
            "X_HEIDI_COUNTERS=[1,2]",
            "X_HEIDI_COUNTERS={\"a\":1,\"a\":2}",
            "X_HEIDI_COUNTERS={\"a\":\"1\"}",
            "X_HEIDI_COUNTERS={\"a\":{\"b\":1}}",
            "X_HEIDI_COUNTERS={\"bad key\":1}",
            "X_HEIDI_COUNTERS={\"a\":1e999}",
            "X_HEIDI_USAGE={\"a\":true}",
            "no equals sign",
        ]
    )
    func malformed(text: String) {
        let parsed = StageNotification.parse(Array((text + "\nSTATUS=still here").utf8))
        #expect(!parsed.problems.isEmpty)
        #expect(parsed.counters.isEmpty && parsed.usage.isEmpty)
        #expect(parsed.status == "still here")
    }

    @Test func statusIsBoundedAndRedacted() {
        let long = StageNotification.parse(Array(("STATUS=" + String(repeating: "é", count: 400)).utf8))
        #expect((long.status?.utf8.count ?? 0) <= StageNotification.maxStatusBytes)
        #expect(long.status?.hasSuffix("…") == true)
        let secret = StageNotification.parse(
            Array("STATUS=calling with OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwxyz123456".utf8)
        )
        #expect(secret.status?.contains("sk-abcdefghijklmnop") == false)
    }

    @Test func progressAccumulatesIncrementsAndCapsNames() {
        var progress = StageProgress()
        progress.apply(StageNotification.parse(Array("X_HEIDI_COUNTERS={\"a\":3}\nX_HEIDI_USAGE={\"tokens\":10}".utf8)))
        progress.apply(
            StageNotification.parse(Array("X_HEIDI_COUNTERS={\"a\":4,\"b\":1}\nX_HEIDI_USAGE={\"tokens\":5}".utf8))
        )
        #expect(progress.counters == ["a": 7, "b": 1])
        #expect(progress.usage == ["tokens": 15])
        #expect(progress.messages == 2)
        for i in 0..<(StageProgress.maxNames + 10) {
            progress.apply(StageNotification.parse(Array("X_HEIDI_COUNTERS={\"k\(i)\":1}".utf8)))
        }
        #expect(progress.counters.count == StageProgress.maxNames)
    }
}

@Suite(.serialized)
struct ProgressChannelTests {
    @Test func statusCountersAndUsageFromTheStageAccumulate() async throws {
        let changes = Atomic<Int>(0)
        let stage = try startNotifyingStage(
            """
            notify("READY=1\\nSTATUS=starting")
            notify('X_HEIDI_COUNTERS={"teacher_generated":3,"rejected":1}')
            notify('X_HEIDI_COUNTERS={"teacher_generated":4}\\nX_HEIDI_USAGE={"input_tokens":1500}')
            notify("STATUS=done 7/7")
            """,
            onStatusChange: { changes.add(1, ordering: .relaxed) }
        )
        let address = stage.channel?.address ?? ""
        #expect(stage.channel != nil)
        let result = await stage.waitForEnd()
        #expect(result.exit.exitCode == 0)
        let progress = try #require(result.progress)
        #expect(progress.counters == ["teacher_generated": 7, "rejected": 1])
        #expect(progress.usage == ["input_tokens": 1500])
        #expect(progress.status == "done 7/7")
        #expect(progress.ready)
        #expect(progress.messages == 4)
        #expect(progress.refused == 0)
        #expect(changes.load(ordering: .relaxed) >= 1)
        #expect(access(address, F_OK) != 0, "the socket \(address) is removed when the stage ends")
    }

    @Test func theSocketIsOnlyForTheDaemonsUser() async throws {
        let stage = try startNotifyingStage("import time; time.sleep(0.3)")
        let address = try #require(stage.channel?.address)
        var info = stat()
        #expect(stat(address, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600, "mode of \(address)")
        _ = await stage.waitForEnd()
    }

    @Test func aSetsidGrandchildOfTheStageIsHeard() async throws {
        let stage = try startNotifyingStage(
            """
            import subprocess, sys
            child = subprocess.Popen([sys.executable, "-c", '''
            import os, socket
            os.setsid()
            a = os.environ["HEIDI_NOTIFY_SOCKET"]
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.sendto(b'X_HEIDI_COUNTERS={"from_grandchild":1}', "\\\\0" + a[1:] if a.startswith("@") else a)
            import time; time.sleep(0.3)  # outside the stage's session, membership is checked while it lives
            '''])
            child.wait()
            """
        )
        let result = await stage.waitForEnd()
        #expect(result.progress?.counters["from_grandchild"] == 1)
        #expect(result.progress?.refused == 0)
    }

    @Test func datagramsFromOutsideTheStageAreRefused() async throws {
        let stage = try startNotifyingStage("import time; time.sleep(1.5)\nnotify('X_HEIDI_COUNTERS={\"mine\":1}')")
        let address = try #require(stage.channel?.address)
        // This test process is the "daemon", not a process of the stage.
        let sent = sendDatagram("X_HEIDI_COUNTERS={\"forged\":100}\nSTATUS=forged", to: address)
        #expect(sent)
        // Another process outside the stage (its own session, not a descendant of the stage).
        let outsider = try startStage(
            "exec python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); "
                + "s.sendto(b\"STATUS=outsider\", sys.argv[1])' \(address)"
        )
        _ = await outsider.waitForEnd()
        let result = await stage.waitForEnd()
        #expect(result.progress?.counters == ["mine": 1])
        #expect(result.progress?.status == nil)
        #expect(result.progress?.refused == 2)
    }

    @Test func oversizedAndGarbageDatagramsNeverHurt() async throws {
        let stage = try startNotifyingStage(
            """
            import os
            notify("X" * 100000)
            notify("\\x00\\xff\\xfe garbage \\n=== \\n")
            notify('X_HEIDI_COUNTERS={"ok":1}')
            """
        )
        let result = await stage.waitForEnd()
        #expect(result.exit.exitCode == 0)
        #expect(result.progress?.counters == ["ok": 1])
    }

    @Test func aStageThatStopsPingingItsWatchdogIsKilledAsHung() async throws {
        let pidFile = temporaryPath("hung.pid")
        let started = MonotonicClock.nanoseconds()
        let stage = try startNotifyingStage(
            """
            import os, subprocess, time
            notify("WATCHDOG=1")
            worker = subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 60"])
            open("\(pidFile)", "w").write(str(worker.pid))
            time.sleep(60)
            """,
            watchdog: 0.5,
            grace: 0.3
        )
        let worker = try #require(await PidFile.read(pidFile))
        let result = await stage.waitForEnd()
        let seconds = Double(MonotonicClock.nanoseconds() - started) / 1e9
        #expect(result.ending == .hung)
        #expect(seconds < 20, "hung stage ended after \(seconds) s")
        #expect(result.survivors.isEmpty)
        #expect(!isAlive(worker))
    }

    @Test func pingsKeepAStageWithAWatchdogAlive() async throws {
        let stage = try startNotifyingStage(
            """
            import time
            for _ in range(12):
                notify("WATCHDOG=1")
                time.sleep(0.1)
            """,
            watchdog: 0.8
        )
        let result = await stage.waitForEnd()
        #expect(result.ending == .exited)
        #expect(result.exit.exitCode == 0)
    }

    @Test func watchdogTriggerEndsTheStageAtOnce() async throws {
        let stage = try startNotifyingStage("import time\nnotify('WATCHDOG=trigger')\ntime.sleep(60)", watchdog: 600)
        let result = await stage.waitForEnd()
        #expect(result.ending == .hung)
    }

    @Test func aTooLongDirectoryFallsBackToTheAbstractNamespace() async throws {
        let deep = "/tmp/" + String(repeating: "d", count: 120)
        let stage = try startNotifyingStage("notify('X_HEIDI_COUNTERS={\"n\":2}')", directory: deep)
        #expect(stage.channel?.address.hasPrefix("@") == true)
        let result = await stage.waitForEnd()
        #expect(result.progress?.counters == ["n": 2])
    }
}

/// Sends one datagram to a channel address (`@name` is abstract) from this process.
private func sendDatagram(_ text: String, to address: String) -> Bool {
    let fd = heidi_connect_datagram(address)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    let payload = Array(text.utf8)
    return payload.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) } == payload.count
}

struct CancellationTests {
    @Test func cancellingTheWaiterStillStopsAndReapsTheWholeStage() async throws {
        let pidFile = temporaryPath("cancel.pid")
        let stage = try startStage("sh -c 'trap \"\" TERM; sleep 60' & echo $! > \(pidFile); wait", grace: 0.3)
        let worker = try #require(await PidFile.read(pidFile))
        let waiter = Task { await stage.waitForEnd() }
        waiter.cancel()
        let result = await waiter.value
        #expect(result.ending == .stopped)
        #expect(result.survivors.isEmpty)
        #expect(!isAlive(worker), "the TERM-ignoring worker \(worker) survived a cancelled waiter")
    }
}

extension ProgressChannelTests {
    @Test func aChildReapedBeforeItsLastDatagramIsReadStillCountsIfItWasSeenBefore() async throws {
        // The leader is a shell that forks the sender and reaps it at once; the sender's first datagram is read
        // while it lives, its last one possibly only after the shell reaped it.
        let stage = try startNotifyingStage(
            """
            import subprocess, sys
            code = '''
            import os, socket, time
            a = os.environ["HEIDI_NOTIFY_SOCKET"]
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            t = "\\\\0" + a[1:] if a.startswith("@") else a
            s.sendto(b'X_HEIDI_COUNTERS={"early":1}', t)
            time.sleep(0.3)
            s.sendto(b'X_HEIDI_COUNTERS={"last":1}', t)
            '''
            subprocess.run([sys.executable, "-c", code], check=True)
            """
        )
        let result = await stage.waitForEnd()
        #expect(result.progress?.counters == ["early": 1, "last": 1])
        #expect(result.progress?.refused == 0)
    }
}

extension ProgressChannelTests {
    @Test func aStageThatCannotSpawnLeavesNoChannelBehind() throws {
        let directory = temporaryPath("spawnfail")
        try FileSystem.createDirectories(directory)
        let spec = LaunchSpec(
            argv: ["/nonexistent/command"],
            environment: ["PATH": "/usr/bin:/bin"],
            workingDirectory: "/tmp"
        )
        #expect(throws: SpawnError.self) {
            try RunningStage.start(
                spec,
                instanceToken: "spawnfail\(getpid())",
                timeout: 5,
                grace: 1,
                progress: ProgressChannelSettings(directory: directory, watchdog: nil, onStatusChange: {}),
                logger: Logger(label: "test"),
                onOutput: { _ in }
            )
        }
        let socket = "\(directory)/stage-\("spawnfail\(getpid())".prefix(16)).notify"
        #expect(!FileSystem.exists(socket), "\(socket) was left behind")
    }
}
