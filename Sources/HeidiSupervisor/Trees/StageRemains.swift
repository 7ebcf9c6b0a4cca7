import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// What the stage of a previous daemon may have left running when that daemon died without cleaning up (kill -9,
/// a crash, the OOM killer), as its `state.json` recorded it: the stage's process group (with the leader's start
/// time, so a reused pid is never taken for it), its `HEIDI_STAGE_INSTANCE` marker, which every process the stage
/// started inherits (`setsid` escapers included, which left the group and are no longer anyone's descendants of
/// ours), and its cgroup, which holds even escapers that cleared their environment.
///
/// The same tests `TreeKiller` uses for a running stage, applied to the whole process table: the new daemon never
/// was these processes' parent.
public struct StageRemains: Sendable, Equatable {
    public var pgid: Int32
    public var startTicks: UInt64?
    /// The `HEIDI_STAGE_INSTANCE` value (nil in a `state.json` written before it was recorded).
    public var instanceToken: String?
    /// The stage's cgroup directory, if it had one.
    public var cgroupPath: String?

    public init(pgid: Int32, startTicks: UInt64?, instanceToken: String?, cgroupPath: String?) {
        self.pgid = pgid
        self.startTicks = startTicks
        self.instanceToken = instanceToken
        self.cgroupPath = cgroupPath
    }

    /// The live processes that belong to the stage.
    public func members() -> [ProcessInfo] {
        // A live pid with another start time was reused; the kernel never reuses a pid while a group or session of
        // that id still has members, so the old group is gone and the number now means someone else.
        let leader = ProcessTable.info(pgid)
        let groupIsOurs = leader == nil || startTicks == nil || leader?.startTicks == startTicks
        let entry = instanceToken.map { "HEIDI_STAGE_INSTANCE=\($0)" }
        let me = getpid()
        var found = ProcessTable.all().filter { process in
            guard process.pid != me, !process.isZombie else { return false }
            if groupIsOurs && (process.group == pgid || process.session == pgid) { return true }
            return entry.map { ProcessTable.environmentContains(process.pid, $0) } ?? false
        }
        if let cgroupPath {
            let known = Set(found.map(\.pid))
            for pid in CgroupFile.pids(cgroupPath + "/cgroup.procs") where pid != me && !known.contains(pid) {
                if let info = ProcessTable.info(pid), !info.isZombie { found.append(info) }
            }
        }
        return found
    }

    /// What `kill` did.
    public struct Outcome: Sendable, Equatable {
        /// Processes that were SIGKILLed.
        public var killed: Int
        /// Pids still alive at the deadline (should always be empty).
        public var survivors: [Int32]

        public init(killed: Int, survivors: [Int32]) {
            self.killed = killed
            self.survivors = survivors
        }
    }

    /// SIGKILLs every process of the stage (and the cgroup, with `cgroup.kill`), scanning again until none is left
    /// or `deadline` seconds pass, then removes the emptied cgroup. Blocks the calling thread: meant for start-up,
    /// before the interrupted stage runs again, which must never meet a copy of itself.
    public func kill(deadline: Double = 5) -> Outcome {
        let start = MonotonicClock.nanoseconds()
        var killed = Set<Int32>()
        var pause: UInt32 = 200
        while true {
            if let cgroupPath, FileSystem.exists(cgroupPath + "/cgroup.kill") {
                _ = try? CgroupFile.write(cgroupPath + "/cgroup.kill", "1")
            }
            let members = members()
            if members.isEmpty { break }
            for process in members {
                Glibc.kill(process.pid, SIGKILL)
                killed.insert(process.pid)
            }
            if Double(MonotonicClock.nanoseconds() - start) / 1e9 > deadline {
                return Outcome(killed: killed.count, survivors: members.map(\.pid))
            }
            // Only while a tree is being torn down: give the kernel time to deliver SIGKILL.
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        if let cgroupPath { rmdir(cgroupPath) }
        return Outcome(killed: killed.count, survivors: [])
    }
}
