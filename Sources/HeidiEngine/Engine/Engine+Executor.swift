import HeidiCore
import HeidiSupervisor

/// Stages that run elsewhere than as heidid's children (a batch scheduler's jobs): the engine passes their executor
/// through to the launcher and persists the record their handle reports, so a restarted heidid can hand it back to
/// the launcher (`StageLauncher.adopt`) instead of starting the stage again. Which executor, and what its record
/// holds, the engine never looks at.
extension Engine {
    /// Tells the launcher where and as which attempt the stage runs, and whom to tell when its record changes.
    func describeExecutor(_ launch: inout StageLaunch, attempt: StageAttempt, settings: StageConfig) {
        launch.executor = settings.executor
        launch.queueTimeout = settings.queueTimeout
        launch.runID = attempt.runID
        launch.attempt = attempt.number
        let token = launch.instanceToken
        launch.onExecutorRecord = { [weak self] _ in Task { await self?.executorRecordChanged(token: token) } }
    }

    /// The running stage's handle has a new record (a job id, a requeue): persisted at once, and journaled.
    func executorRecordChanged(token: String) {
        guard let running = current, running.token == token else { return }
        persist()
        if let executorRecord = running.handle.executorRecord {
            journalExecutorRecord(executorRecord, attempt: running.attempt)
        }
    }

    /// Journals a stage's executor record (`stage_executor`): the fields, sorted, in the message.
    func journalExecutorRecord(_ executorRecord: ExecutorRecord, attempt: StageAttempt) {
        record(
            EventDraft(
                .stageExecutor,
                message: "\(attempt.stage.rawValue) of round \(attempt.round) runs as a \(executorRecord.executor) "
                    + "stage: \(executorRecord.described)",
                runID: attempt.runID,
                round: attempt.round,
                stage: attempt.stage.rawValue
            )
        )
    }
}

/// A stage attempt a previous heidid started elsewhere, to take over: its record and instance token.
struct StageAdoption: Sendable {
    var record: ExecutorRecord
    var token: String
}

extension Engine {
    /// Restart recovery for a stage that ran elsewhere: hands its record back to the launcher and, when the launcher
    /// re-attaches, supervises it as the current stage again (its log continues, no new stage_start). With
    /// `recovery: idle`, or when a stop was under way, the re-attached stage is stopped. False: nothing to adopt, or
    /// the launcher could not; the caller recovers as for a local child.
    func adoptInterruptedStage(_ persisted: StateFile) -> Bool {
        let previous = persisted.pipelineState
        guard previous.stageActive, let executorRecord = persisted.stageExecutor, let token = persisted.stageInstance,
            let stage = previous.phase.stage
        else { return false }
        let total = (config.stages[stage]?.retries ?? 0) + 1
        let attempt = StageAttempt(
            stage: stage,
            round: previous.round,
            runID: previous.runID,
            number: min(max(persisted.stageAttempt ?? 1, 1), total),
            total: total
        )
        state = previous
        guard launchAttempt(attempt, adopting: StageAdoption(record: executorRecord, token: token)) else {
            state = previous
            return false
        }
        let stopIt = config.recovery == .idle || previous.stopping
        record(
            EventDraft(
                .runRecovered,
                level: .warn,
                message: "daemon restarted during \(stage.rawValue) of round \(previous.round); re-attached to its "
                    + "\(executorRecord.executor) stage (\(executorRecord.described))\(stopIt ? "; stopping it" : "")",
                runID: previous.runID,
                round: previous.round,
                stage: stage.rawValue
            )
        )
        if stopIt {
            if previous.stopping { current?.handle.requestStop() } else { enqueue(.stop) }
        }
        drainPendingInputs()
        persist()
        return true
    }
}
