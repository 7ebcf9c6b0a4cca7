#if canImport(Glibc)
import Glibc
#endif
import HeidiCore
import HeidiSupervisor

extension Engine {
    /// Restart recovery (SPEC §2): make sure nothing of the interrupted stage survives, then resume or go idle.
    func recover(from persisted: StateFile) {
        withStatusHeld { applyRecovery(from: persisted) }
    }

    private func applyRecovery(from persisted: StateFile) {
        let previous = persisted.pipelineState
        if previous.stageActive, let child = persisted.status.child {
            let killed = Self.killLeftovers(pgid: child.pgid, startTicks: child.startTicks)
            if killed > 0 {
                logger.warning("killed processes left by the previous daemon", metadata: ["pgid": "\(child.pgid)", "count": "\(killed)"])
            }
        }
        state = previous
        state.stageActive = false
        let transition = Pipeline.recover(previous, resume: config.recovery == .resume)
        state = transition.state
        for effect in transition.effects {
            switch effect {
            case .record(let draft): record(draft)
            case .startStage(let stage, let round): startStage(stage, round: round)
            case .terminateStage: break
            }
        }
        drainPendingInputs()
    }

    /// SIGKILLs the recorded process group of a previous daemon's stage, unless the pid now belongs to another
    /// process (checked by start time). Returns how many processes were signalled.
    static func killLeftovers(pgid: Int32, startTicks: UInt64?) -> Int {
        // A live pid with another start time was reused; the kernel never reuses a pid while a group of that
        // id still has members, so the old group is gone too.
        if let leader = ProcessTable.info(pgid), let startTicks, leader.startTicks != startTicks { return 0 }
        let members = ProcessTable.all().filter { ($0.group == pgid || $0.session == pgid) && !$0.isZombie }
        guard !members.isEmpty else { return 0 }
        killpg(pgid, SIGKILL)
        for member in members { kill(member.pid, SIGKILL) }
        return members.count
    }
}
