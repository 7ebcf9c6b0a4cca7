import HeidiCore
import HeidiEngine
import HeidiSupervisor
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Runs `executor: slurm` stages as Slurm batch jobs (docs/slurm.md), behind the engine's `StageLauncher` seam: the
/// engine hands it the stage's argv, environment and limits like to the local launcher, and after a restart the
/// `ExecutorRecord` a job's handle reported, to adopt that job instead of submitting it again.
public struct SlurmStageLauncher: StageLauncher {
    let client: SlurmClient
    let accounting = SlurmAccounting()
    let poll: SlurmPolling
    let logger: Logger

    /// `environment` is heidid's: Slurm's commands run with it (`PATH`, `SLURM_CONF`), and `HEIDI_SLURM_POLL` tunes
    /// the polling interval.
    public init(environment: [String: String], logger: Logger, runner: (any SlurmCommandRunner)? = nil) {
        client = SlurmClient(runner: runner ?? ProcessSlurmRunner(logger: logger), environment: environment)
        poll = SlurmPolling.from(environment: environment)
        self.logger = logger
    }

    public func launch(_ launch: StageLaunch, onOutput: @escaping OutputHandler) throws(SpawnError) -> any StageHandle {
        let plan = try makePlan(launch)
        return SlurmJobHandle(
            plan: plan,
            client: client,
            accounting: accounting,
            jobID: nil,
            adopting: false,
            logger: logger,
            onOutput: onOutput,
            onRecord: launch.onExecutorRecord
        )
    }

    public func adopt(
        _ record: ExecutorRecord,
        _ launch: StageLaunch,
        onOutput: @escaping OutputHandler
    ) -> (any StageHandle)? {
        guard record.executor == "slurm", var plan = try? makePlan(launch) else { return nil }
        if let name = record.fields["job_name"] { plan.name = name }
        if let output = record.fields["output"] {
            plan.outputPath = output
            plan.progressPath = String(output.dropLast(".out".count)) + ".progress"
        }
        logger.info(
            "adopting slurm job",
            metadata: ["job": "\(record.fields["job_id"] ?? "by name")", "name": "\(plan.name)"]
        )
        let handle = SlurmJobHandle(
            plan: plan,
            client: client,
            accounting: accounting,
            jobID: record.fields["job_id"],
            adopting: true,
            logger: logger,
            onOutput: onOutput,
            onRecord: launch.onExecutorRecord
        )
        handle.requeueCount = record.fields["requeues"].flatMap { Int($0) } ?? 0
        return handle
    }

    private func makePlan(_ launch: StageLaunch) throws(SpawnError) -> SlurmJobPlan {
        guard case .slurm(let job) = launch.executor else {
            throw SpawnError(
                executable: "sbatch",
                errno: EINVAL,
                detail: "stage \(launch.stage.rawValue) is not an executor: slurm stage"
            )
        }
        let directory = SlurmJobPlan.directory(launch)
        do {
            let script = try SlurmBatchScript.install(in: directory)
            return SlurmJobPlan(launch, job: job, script: script, poll: poll)
        } catch {
            throw SpawnError(
                executable: "sbatch",
                errno: EIO,
                detail: "cannot write the batch script under \(directory): \(error)"
            )
        }
    }
}
