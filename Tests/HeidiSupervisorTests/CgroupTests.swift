import CHeidiShim
import HeidiCore
import HeidiTestSupport
import Testing

@testable import HeidiSupervisor

#if canImport(Glibc)
import Glibc
#endif

/// A cgroup2 directory of our own, as systemd would delegate one: `<cgroup2 mount>/heidi-test-<pid>-<random>`.
/// Creating it needs root and a mounted cgroup2 (on this machine the hybrid layout's `/sys/fs/cgroup/unified`).
struct ScratchCgroup {
    let root: String
    let mountPoint: String
    /// Where this process was before the test, to go back to.
    let original: String

    static func make() throws -> ScratchCgroup {
        let mountinfo = ProcessTable.readSmallFile("/proc/self/mountinfo") ?? ""
        guard let mount = CgroupDetection.cgroup2Mount(mountinfo) else {
            throw Unavailable("no cgroup2 file system is mounted")
        }
        let own = (ProcessTable.readSmallFile("/proc/self/cgroup") ?? "").split(separator: "\n").first {
            $0.hasPrefix("0::")
        }
        guard let own else { throw Unavailable("this process has no cgroup v2 membership") }
        let root = "\(mount.point)/heidi-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(root, 0o755) == 0 else {
            throw Unavailable(
                "cannot create \(root): \(errnoDescription(errno)) (the cgroup tests need root and a writable cgroup2)"
            )
        }
        let relative = String(own.dropFirst(3))
        return ScratchCgroup(
            root: root,
            mountPoint: mount.point,
            original: mount.point + (relative == "/" ? "" : relative)
        )
    }

    /// Kills whatever a failed test left in its stage cgroups, then removes every directory below and including
    /// `root`. This process, and whatever else is in the supervisor leaf, goes back where it came from first.
    func remove() {
        try? CgroupFile.write(original + "/cgroup.procs", "0")
        for pid in CgroupFile.pids(root + "/supervisor/cgroup.procs") {
            try? CgroupFile.write(original + "/cgroup.procs", String(pid))
        }
        let groups = CgroupFile.subdirectories(root).map { root + "/" + $0 }
        for group in groups where group.hasPrefix(root + "/stage-") {
            try? CgroupFile.write(group + "/cgroup.kill", "1")
        }
        for group in groups + [root] {
            _ = eventually(2) { !StageCgroup(path: group, mountPoint: mountPoint).isPopulated }
            rmdir(group)
        }
    }

    struct Unavailable: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

@Suite("cgroup v2 supervision (real cgroups)", .serialized)
struct CgroupTests {
    @Test func aStageInItsOwnCgroupIsKilledWholeAndAccountedWhole() async throws {
        let scratch = try ScratchCgroup.make()
        defer { scratch.remove() }
        let delegation = try CgroupDelegation.adopt(root: scratch.root, mountPoint: scratch.mountPoint)
        defer { try? delegation.release(movingTo: scratch.original) }
        #expect(
            CgroupFile.text("/proc/self/cgroup")?.contains(
                "0::\(String(delegation.leaf.dropFirst(scratch.mountPoint.count)))"
            ) == true,
            "the daemon moved itself into the supervisor leaf"
        )

        let escaperFile = temporaryPath("cg-escaper")
        let burned = temporaryPath("cg-burned")
        // An escaper that leaves session, group and environment behind; a TERM-ignoring leader; CPU burnt by an
        // orphan the leader never waits for. The stage times out.
        let script =
            Fixture.setsidEscaper(pidFile: escaperFile, clearEnvironment: true) + "; "
            + Fixture.orphanBurner(seconds: 0.3, done: burned)
            + "; trap '' TERM; while [ ! -e \(burned) ]; do sleep 0.05; done; sleep 60"
        let stage = try startStage(script, timeout: 2.5, grace: 0.3, cgroups: delegation)
        let cgroup = try #require(stage.cgroup)
        #expect(cgroup.path.hasPrefix(scratch.root + "/stage-"))
        #expect(cgroup.contains(stage.child.pid), "the leader was in its cgroup from its first instruction")
        let escaper = try #require(await PidFile.read(escaperFile))
        let info = try #require(ProcessTable.info(escaper))
        #expect(
            info.session != stage.child.pid && !ProcessTable.environmentContains(escaper, "HEIDI_STAGE=test"),
            "the escaper left the session and dropped the environment"
        )
        #expect(cgroup.contains(escaper), "but not the cgroup")

        let result = await stage.waitForEnd()
        #expect(
            result.ending == .timedOut && result.exit.signal == Int(SIGKILL),
            "TERM ignored, killed after the grace"
        )
        #expect(!isAlive(escaper), "the environment-less setsid escaper survived")
        #expect(ProcessTable.info(escaper) == nil, "and was reaped")
        #expect(result.survivors.isEmpty)
        let usage = try #require(result.cgroupUsage)
        let treeCPU = (usage.userMicroseconds + usage.systemMicroseconds) / 1000
        let leaderCPU = result.exit.userCPUMilliseconds + result.exit.systemCPUMilliseconds
        #expect(treeCPU >= 250, "the cgroup accounted the orphan's 300 ms of CPU, got \(treeCPU) ms")
        #expect(leaderCPU < treeCPU - 200, "wait4 of the leader cannot see the orphan (\(leaderCPU) ms)")
        #expect(!FileSystem.exists(cgroup.path), "the stage's cgroup is removed afterwards")
    }

    @Test func systemdsDelegationMarkIsRead() throws {
        let scratch = try ScratchCgroup.make()
        defer { scratch.remove() }
        #expect(!CgroupDetection.Probe.system.isDelegated(scratch.root))
        let marked = scratch.root + "/marked"
        #expect(mkdir(marked, 0o755) == 0)
        let setter = LaunchSpec(
            argv: ["python3", "-c", "import os; os.setxattr('\(marked)', 'trusted.delegate', b'1')"],
            environment: ["PATH": "/usr/bin:/bin"],
            workingDirectory: nil
        )
        let child = try ChildProcess.spawn(setter)
        var status: Int32 = 0
        waitpid(child.pid, &status, 0)
        #expect(CgroupDetection.Probe.system.isDelegated(marked))
        #expect(CgroupDetection.Probe.system.isWritable(marked))
    }

    @Test func leftoverStageCgroupsOfAPreviousDaemonAreKilledAtAdoption() throws {
        let scratch = try ScratchCgroup.make()
        defer { scratch.remove() }
        let stale = scratch.root + "/stage-train-0123456789ab"
        #expect(mkdir(stale, 0o755) == 0)
        let sleeper = try ChildProcess.spawn(
            LaunchSpec(
                argv: ["/bin/sleep", "60"],
                environment: [:],
                workingDirectory: nil,
                cgroup: stale
            )
        )
        let delegation = try CgroupDelegation.adopt(root: scratch.root, mountPoint: scratch.mountPoint)
        defer { try? delegation.release(movingTo: scratch.original) }
        #expect(delegation.leftoversRemoved == 1)
        #expect(!FileSystem.exists(stale))
        var status: Int32 = 0
        waitpid(sleeper.pid, &status, 0)
        #expect(heidi_wifsignaled(status) != 0 && heidi_wtermsig(status) == SIGKILL)
    }
}

@Suite("cgroup detection")
struct CgroupDetectionTests {
    static let unifiedOnly = "35 24 0:30 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
    static let hybrid =
        "30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid shared:5 - cgroup2 cgroup2 rw\n"
        + "31 25 0:27 / /sys/fs/cgroup/memory rw shared:6 - cgroup cgroup rw,memory\n"

    static func probe(delegated: Set<String>, writable: Bool = true) -> CgroupDetection.Probe {
        CgroupDetection.Probe(
            isDelegated: { delegated.contains($0) },
            isWritable: { _ in writable },
            isDirectory: { _ in true }
        )
    }

    @Test func theTable() {
        let service = "/sys/fs/cgroup/system.slice/heidi.service"
        let cases: [(String?, String, String, CgroupDetection.Probe, CgroupDetection.Decision)] = [
            (
                nil, "0::/system.slice/heidi.service\n", Self.unifiedOnly, Self.probe(delegated: [service]),
                .use(root: service, mountPoint: "/sys/fs/cgroup")
            ),
            // After moving into the leaf (or with systemd's DelegateSubgroup=supervisor) the delegated root is the parent.
            (
                nil, "0::/system.slice/heidi.service/supervisor\n", Self.unifiedOnly, Self.probe(delegated: [service]),
                .use(root: service, mountPoint: "/sys/fs/cgroup")
            ),
            (
                nil, "0::/system.slice/heidi.service\n", Self.unifiedOnly, Self.probe(delegated: []),
                .skip(
                    "own cgroup \(service) is not delegated (run under systemd with Delegate=yes, or set HEIDI_CGROUP)"
                )
            ),
            (
                nil, "0::/system.slice/heidi.service\n", Self.unifiedOnly,
                Self.probe(delegated: [service], writable: false),
                .skip("own cgroup \(service) is delegated but not writable by this user")
            ),
            (
                nil, "1:cpu:/\n0::/\n", Self.hybrid, Self.probe(delegated: []),
                .skip(
                    "own cgroup is the root of the cgroup2 hierarchy at /sys/fs/cgroup/unified, which is not delegated"
                )
            ),
            (
                nil, "0::/\n", "31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
                Self.probe(delegated: []),
                .skip("no cgroup2 file system is mounted")
            ),
            (
                "off", "0::/system.slice/heidi.service\n", Self.unifiedOnly, Self.probe(delegated: [service]),
                .skip("disabled by HEIDI_CGROUP=off")
            ),
            (
                "/sys/fs/cgroup/unified/heidi", "0::/\n", Self.hybrid, Self.probe(delegated: []),
                .use(root: "/sys/fs/cgroup/unified/heidi", mountPoint: "/sys/fs/cgroup/unified")
            ),
            (
                "/tmp/heidi", "0::/\n", Self.hybrid, Self.probe(delegated: []),
                .skip("HEIDI_CGROUP=/tmp/heidi is not below the cgroup2 mount /sys/fs/cgroup/unified")
            ),
        ]
        for (override, own, mountinfo, probe, expected) in cases {
            #expect(
                CgroupDetection.decide(override: override, ownCgroup: own, mountinfo: mountinfo, probe: probe)
                    == expected
            )
        }
    }

    @Test func thisMachineReportsWhatItUses() {
        let supervision = Supervision.setUp(environment: [:])
        #expect(supervision.mechanism.hasSuffix("subreaper+pgroup"))
        #expect(supervision.mechanism.hasPrefix("cgroup2+") == (supervision.cgroups != nil))
        #expect(!supervision.detail.isEmpty)
    }
}

@Suite("cgroup2 mount detection")
struct CgroupMountParsingTests {
    @Test func findsTheCgroup2LineWithOrWithoutOptionalFields() {
        let mountinfo = """
            22 1 0:21 / /proc rw,nosuid - proc proc rw
            30 25 0:26 / /sys/fs/cgroup/systemd rw,nosuid shared:9 - cgroup cgroup rw,name=systemd
            31 25 0:27 /heidi.slice /sys/fs/cgroup/unified rw,nosuid,nodev shared:10 master:3 - cgroup2 cgroup2 rw
            """
        let mount = CgroupDetection.cgroup2Mount(mountinfo)
        #expect(mount?.point == "/sys/fs/cgroup/unified" && mount?.root == "/heidi.slice")
        #expect(
            CgroupDetection.cgroup2Mount("29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw")?.point
                == "/sys/fs/cgroup"
        )
        #expect(
            CgroupDetection.cgroup2Mount("22 1 0:21 / /proc rw - proc proc rw\n30 25 0:26 / /x rw - cgroup cgroup rw")
                == nil
        )
        #expect(CgroupDetection.cgroup2Mount("malformed - cgroup2 x") == nil, "too few fields before the separator")
    }
}
