import CHeidiShim
import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// Finds and kills every process of one stage: its process group, plus descendants of the daemon that left the
/// group (`setsid` escapers, recognised by session or by the stage's instance variable in their environment), plus,
/// when the stage has its own cgroup, everything in that cgroup (which also catches escapers that cleared their
/// environment), finally killed with `cgroup.kill`.
///
/// The daemon is a child subreaper, so orphaned stage processes are re-parented to it rather than to PID 1 and
/// stay findable as its descendants; the ones it kills are its to reap.
public struct TreeKiller: Sendable {
    public let leader: Int32
    /// `HEIDI_STAGE_INSTANCE=<token>`: inherited by every process the stage starts.
    public let instanceEntry: String
    public let cgroup: StageCgroup?

    public init(leader: Int32, instanceEntry: String, cgroup: StageCgroup? = nil) {
        self.leader = leader
        self.instanceEntry = instanceEntry
        self.cgroup = cgroup
    }

    /// Enables `PR_SET_CHILD_SUBREAPER` for this process. Returns false if the kernel refused.
    @discardableResult
    public static func becomeSubreaper() -> Bool { heidi_set_child_subreaper() == 0 }

    public static var isSubreaper: Bool { heidi_is_child_subreaper() == 1 }

    /// The stage's processes alive or unreaped right now (excluding the leader).
    public func members() -> [ProcessInfo] {
        let table = ProcessTable.all()
        var found = ProcessTable.descendants(of: getpid(), in: table).filter { $0.pid != leader && belongs($0) }
        if let cgroup {
            let known = Set(found.map(\.pid))
            for pid in cgroup.processes() where pid != leader && !known.contains(pid) {
                if let info = ProcessTable.info(pid) { found.append(info) }
            }
        }
        return found
    }

    /// Whether `pid` (alive, or a zombie not yet reaped) is the leader or one of the stage's processes, by the same
    /// tests as `members()`: process group, session, cgroup, or the instance variable in its environment.
    public func isMember(_ pid: Int32) -> Bool {
        if pid == leader { return true }
        guard let info = ProcessTable.info(pid) else { return false }
        return belongs(info)
    }

    private func belongs(_ process: ProcessInfo) -> Bool {
        if process.group == leader || process.session == leader { return true }
        if let cgroup, cgroup.contains(process.pid) { return true }
        return !process.isZombie && ProcessTable.environmentContains(process.pid, instanceEntry)
    }

    /// Sends `signal` to the group and to every member outside it (with a cgroup, SIGKILL is `cgroup.kill`).
    public func signalAll(_ signal: Int32) {
        killpg(leader, signal)
        if signal == SIGKILL { cgroup?.kill() }
        for process in members() where !process.isZombie && process.group != leader { kill(process.pid, signal) }
    }

    /// SIGKILLs everything that is left (the leader included, unless it is already gone) and reaps the members that
    /// are the daemon's own children, until none remains or `deadline` passes. Returns the pids still present.
    @discardableResult
    public func killRemaining(deadline: Double = 5) async -> [Int32] {
        let start = MonotonicClock.nanoseconds()
        var killed = Set<Int32>()
        var pause: UInt64 = 200_000
        let me = getpid()
        while true {
            killpg(leader, SIGKILL)
            cgroup?.kill()
            let members = members()
            for process in members where !process.isZombie {
                kill(process.pid, SIGKILL)
                killed.insert(process.pid)
            }
            // Reap what we killed once it is our zombie (escapers re-parented to us, or their children later).
            for pid in killed {
                guard let info = ProcessTable.info(pid) else {
                    killed.remove(pid)
                    continue
                }
                if info.isZombie && info.parent == me, waitpid(pid, nil, WNOHANG) == pid { killed.remove(pid) }
            }
            // Members that died by themselves, or by cgroup.kill before a scan saw them alive, are ours to reap as well.
            for process in members where process.isZombie && process.parent == me && !killed.contains(process.pid) {
                waitpid(process.pid, nil, WNOHANG)
            }
            let remaining = members.filter { !($0.isZombie && $0.parent == me) }.map(\.pid)
            if remaining.isEmpty && killed.isEmpty && cgroup?.isPopulated != true { return [] }
            if Double(MonotonicClock.nanoseconds() - start) / 1e9 > deadline { return remaining + Array(killed) }
            // Only while a tree is being torn down: give the kernel time to deliver SIGKILL and re-parent.
            try? await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 20_000_000)
        }
    }
}
