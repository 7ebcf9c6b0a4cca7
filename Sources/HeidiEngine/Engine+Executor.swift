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

    /// The running stage's handle has a new record (a job id): persisted at once.
    func executorRecordChanged(token: String) {
        guard current?.token == token else { return }
        persist()
    }
}
