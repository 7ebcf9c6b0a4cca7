import HeidiCore
import HeidiSupervisor

#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    /// Restart recovery (SPEC §2): make sure nothing of the interrupted stage survives, then resume or go idle.
    func recover(from persisted: StateFile) {
        withStatusHeld { applyRecovery(from: persisted) }
    }

    private func applyRecovery(from persisted: StateFile) {
        let previous = persisted.pipelineState
        // A daemon killed during a stage left that stage's progress socket in the runtime directory.
        if previous.stageActive, let token = persisted.stageInstance,
            StageNotifyChannel.removeLeftover(directory: config.runtimeDir, instance: token)
        {
            logger.info(
                "removed the interrupted stage's progress socket",
                metadata: ["directory": "\(config.runtimeDir)"]
            )
        }
        if adoptInterruptedStage(persisted) { return }
        var note: String?
        // pgid 0: the stage ran elsewhere (a batch job heidid could not re-attach to); there is no local group to kill.
        if previous.stageActive, let child = persisted.status.child, child.pgid > 0 {
            // Everything of the interrupted stage goes before it runs again: its process group, every process with
            // its instance marker (setsid escapers), and its cgroup.
            let remains = StageRemains(
                pgid: child.pgid,
                startTicks: child.startTicks,
                instanceToken: persisted.stageInstance,
                cgroupPath: persisted.stageCgroup
            )
            let outcome = remains.kill()
            if outcome.killed > 0 {
                note = "killed \(outcome.killed) process\(outcome.killed == 1 ? "" : "es") the interrupted stage left"
                logger.warning(
                    "killed processes left by the previous daemon",
                    metadata: ["pgid": "\(child.pgid)", "count": "\(outcome.killed)"]
                )
            }
            if !outcome.survivors.isEmpty {
                note = (note.map { $0 + "; " } ?? "") + "WARNING: pids \(outcome.survivors) survived SIGKILL"
                logger.error(
                    "processes of the interrupted stage survived SIGKILL",
                    metadata: ["pids": "\(outcome.survivors)"]
                )
            }
        }
        state = previous
        state.stageRun = .none
        let transition = Pipeline.recover(previous, resume: config.recovery == .resume, note: note)
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
}
