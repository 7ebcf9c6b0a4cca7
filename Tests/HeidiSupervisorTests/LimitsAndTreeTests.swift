import HeidiCore
import HeidiTestSupport
import Testing

@testable import HeidiSupervisor

#if canImport(Glibc)
import Glibc
#endif

@Suite("Resource limits and whole-tree kill", .serialized)
struct LimitsAndTreeTests {
    @Test func theExecHelperIsBuiltNextToTheBinaries() throws {
        let helper = try #require(
            ExecHelper.path,
            "heidi-exec must sit next to the test bundle (swift build builds it)"
        )
        #expect(helper.hasSuffix("/heidi-exec"))
        #expect(
            ExecHelper.locate(environment: ["HEIDI_EXEC_HELPER": "/nonexistent/heidi-exec"], executable: helper) == nil
        )
        #expect(ExecHelper.locate(environment: [:], executable: helper) == helper)
    }

    @Test func rlimitsAreInPlaceBeforeTheProgramsFirstInstruction() async throws {
        let sink = LineSink()
        let limits = [
            ResourceLimit(.nofile, 64), ResourceLimit(.addressSpace, 8 << 30), ResourceLimit(.cpu, 100),
            ResourceLimit(.core, 0), ResourceLimit(.nproc, 4000),
        ]
        let stage = try startStage("cat /proc/self/limits", rlimits: limits, sink: sink)
        let result = await stage.waitForEnd()
        #expect(result.exit.exitCode == 0)
        func limit(_ name: String) -> [Substring] {
            sink.lines.first { $0.text.hasPrefix(name) }.map { $0.text.dropFirst(name.count).split(separator: " ") }
                ?? []
        }
        #expect(limit("Max open files").prefix(2) == ["64", "64"])
        #expect(limit("Max address space").prefix(2) == ["8589934592", "8589934592"])
        #expect(limit("Max cpu time").prefix(2) == ["100", "105"], "SIGXCPU at 100 s, SIGKILL 5 s later")
        #expect(limit("Max core file size").prefix(2) == ["0", "0"])
        #expect(limit("Max processes").prefix(2) == ["4000", "4000"])
        #expect(stage.child.pid > 0 && ProcessTable.info(stage.child.pid) == nil, "same pid as the helper, reaped")
    }

    @Test func aDescriptorHogStopsAtNofile() async throws {
        let sink = LineSink()
        let stage = try startStage(Fixture.descriptorHog, rlimits: [ResourceLimit(.nofile, 32)], sink: sink)
        _ = await stage.waitForEnd()
        let fields = try #require(sink.lines.last).text.split(separator: " ")
        #expect(fields.count == 2 && fields[1] == "\(EMFILE)", "\(sink.lines)")
        #expect((Int(fields[0]) ?? 99) <= 29, "32 descriptors minus stdin, stdout, stderr")
    }

    @Test func aForkBombIsBoundedByNprocAndLeavesNothingBehind() async throws {
        let uid: UInt32 = 64_999  // no account uses it, so RLIMIT_NPROC counts only the bomb
        let stage = try startStage(
            Fixture.forkBomb(uid: Int(uid)),
            timeout: 1.5,
            grace: 0.2,
            rlimits: [ResourceLimit(.nproc, 12)]
        )
        var most = 0
        let deadline = MonotonicClock.nanoseconds() + 1_200_000_000
        while MonotonicClock.nanoseconds() < deadline {
            most = max(most, processes(ofUID: uid).count)
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        let result = await stage.waitForEnd()
        #expect(most > 1, "the bomb ran as uid \(uid)")
        #expect(most <= 12, "at most nproc processes at once, saw \(most)")
        #expect(result.survivors.isEmpty)
        #expect(processes(ofUID: uid).isEmpty, "no process of the bomb survived the stage")
    }

    @Test func theCPULimitEndsARunawayLoopWithSIGXCPU() async throws {
        let stage = try startStage(
            "while :; do :; done",
            timeout: 20,
            rlimits: [ResourceLimit(.cpu, 1), ResourceLimit(.core, 0)]
        )
        let result = await stage.waitForEnd()
        #expect(result.ending == .exited && result.exit.signal == Int(SIGXCPU), "\(result.exit.description)")
    }

    @Test func aCrasherIsReportedAsSIGSEGV() async throws {
        let stage = try startStage(Fixture.crasher, rlimits: [ResourceLimit(.core, 0)])
        let result = await stage.waitForEnd()
        #expect(result.exit.signal == Int(SIGSEGV) && result.exit.description == "killed by SIGSEGV")
        #expect(result.survivors.isEmpty)
    }

    @Test func aChildThatChangesItsProcessGroupIsStillKilled() async throws {
        let pidFile = temporaryPath("pgroup")
        let stage = try startStage(Fixture.groupChanger(pidFile: pidFile))
        let moved = try #require(await PidFile.read(pidFile))
        let info = try #require(ProcessTable.info(moved))
        #expect(info.group != stage.child.pid && info.session == stage.child.pid, "left the group, kept the session")
        let result = await stage.waitForEnd()
        #expect(result.exit.exitCode == 0)
        #expect(!isAlive(moved), "a child in its own process group survived the stage")
    }

    @Test func helperFailuresAreSpawnErrorsThatSayWhatFailed() {
        let environment = ["PATH": "/usr/bin:/bin"]
        let badCgroup = LaunchSpec(
            argv: ["/bin/true"],
            environment: environment,
            workingDirectory: nil,
            cgroup: "/nonexistent-cgroup"
        )
        do {
            _ = try ChildProcess.spawn(badCgroup)
            Issue.record("joining a missing cgroup must fail the spawn")
        } catch {
            #expect(error.errno == ENOENT && error.detail.contains("/nonexistent-cgroup/cgroup.procs"), "\(error)")
        }
        let missing = LaunchSpec(
            argv: ["no-such-program-heidi"],
            environment: environment,
            workingDirectory: nil,
            rlimits: [ResourceLimit(.nofile, 64)]
        )
        do {
            _ = try ChildProcess.spawn(missing)
            Issue.record("a missing program must fail the spawn")
        } catch {
            #expect(error.errno == ENOENT && "\(error)".contains("not found"), "\(error)")
        }
    }
}

@Suite("Governor and retry policy")
struct PolicyTests {
    static func sample(busy: UInt64, total: UInt64, available: UInt64 = 800) -> SystemLoadSample {
        SystemLoadSample(busyTicks: busy, totalTicks: total, memoryTotalKB: 1000, memoryAvailableKB: available)
    }

    @Test func cpuIsMeasuredBetweenTwoReadingsNeverSinceBoot() {
        // Since boot the machine was idle (10%), over the interval it is busy (95%): the interval decides.
        let reading = ResourceGovernor.evaluate(
            from: Self.sample(busy: 1000, total: 10_000),
            to: Self.sample(busy: 1095, total: 10_100),
            maxCPUPercent: 90,
            maxMemoryPercent: 90
        )
        #expect(reading.cpuPercent == 95 && !reading.mayStart)
        #expect(reading.holdReason == "CPU 95% >= max_cpu_pct 90%")
    }

    @Test func theTable() {
        let cases: [(SystemLoadSample, SystemLoadSample, Double, Double, Bool, String)] = [
            (Self.sample(busy: 0, total: 0), Self.sample(busy: 20, total: 100), 90, 90, true, "CPU 20%, memory 20%"),
            (Self.sample(busy: 0, total: 0), Self.sample(busy: 90, total: 100), 90, 90, false, "CPU 90%, memory 20%"),
            (Self.sample(busy: 0, total: 0), Self.sample(busy: 100, total: 100), 100, 90, true, "CPU 100%, memory 20%"),
            (
                Self.sample(busy: 0, total: 0), Self.sample(busy: 10, total: 100, available: 50), 90, 90, false,
                "CPU 10%, memory 95%"
            ),
            (
                Self.sample(busy: 0, total: 0), Self.sample(busy: 10, total: 100, available: 50), 90, 100, true,
                "CPU 10%, memory 95%"
            ),
            // No time passed: CPU cannot be judged, so it does not hold (it is never reported as 0%).
            (
                Self.sample(busy: 5, total: 100), Self.sample(busy: 5, total: 100), 1, 90, true,
                "CPU unknown, memory 20%"
            ),
        ]
        for (from, to, cpu, memory, mayStart, summary) in cases {
            let reading = ResourceGovernor.evaluate(from: from, to: to, maxCPUPercent: cpu, maxMemoryPercent: memory)
            #expect(reading.mayStart == mayStart && reading.summary == summary, "\(reading)")
        }
        #expect(!ResourceGovernor.isActive(maxCPUPercent: 100, maxMemoryPercent: 100))
    }

    @Test func procParsingCountsIdleAndIowaitAsIdle() {
        let sample = ProcSystemSampler.parse(
            stat: "cpu  10 1 5 80 4 0 0 0 7 0\ncpu0 1 1 1 1 1 1 1 1\n",
            meminfo: "MemTotal:       16000 kB\nMemFree: 1 kB\nMemAvailable:    4000 kB\n"
        )
        #expect(
            sample == SystemLoadSample(busyTicks: 16, totalTicks: 100, memoryTotalKB: 16000, memoryAvailableKB: 4000)
        )
    }

    @Test func backoffDoublesIsCappedAndJitteredWithinTheUpperHalf() {
        #expect(RetryBackoff.delay(retry: 1, base: 10, cap: 600, unit: 0) == 5)
        #expect(RetryBackoff.delay(retry: 1, base: 10, cap: 600, unit: 0.999_999) < 10)
        #expect(RetryBackoff.delay(retry: 3, base: 10, cap: 600, unit: 0) == 20)
        #expect(RetryBackoff.delay(retry: 3, base: 10, cap: 600, unit: 1) == 40)
        #expect(RetryBackoff.delay(retry: 20, base: 10, cap: 600, unit: 1) == 600)
        #expect(
            RetryBackoff.delay(retry: 200, base: 10, cap: 600, unit: 0) == 300,
            "huge attempt numbers do not overflow"
        )
    }
}
