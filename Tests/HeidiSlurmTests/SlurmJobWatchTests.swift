import HeidiCore
import HeidiSlurm
import HeidiSupervisor
import Logging
import Synchronization
import Testing

@testable import HeidiEngine

/// A Slurm that answers from a script: `sbatch` gives job 7, `squeue` the next of its answers (`STATE` or
/// `STATE@start second`; the last one repeats; "" is an answer that does not list the job), `scontrol show job` the
/// state squeue last listed (exit 1 for FAILED) with `restarts`, no accounting.
final class ScriptedSlurm: SlurmCommandRunner, Sendable {
    private let state: Mutex<(answers: [String], last: String)>

    let restarts: Int

    init(squeue states: [String], restarts: Int = 0) {
        state = Mutex((states, "PENDING"))
        self.restarts = restarts
    }

    func run(_ argv: [String], environment: [String: String]) async -> SlurmCommandResult {
        switch argv.first {
        case "sbatch": return SlurmCommandResult(status: 0, stdout: "7\n", stderr: "")
        case "squeue":
            let answer = state.withLock { state -> String in
                let next = state.answers.count > 1 ? state.answers.removeFirst() : state.answers.first ?? ""
                if !next.isEmpty { state.last = next }
                return next
            }
            let parts = answer.split(separator: "@").map(String.init)
            let start = parts.count > 1 ? parts[1] : "01"
            let line =
                answer.isEmpty
                ? "" : "7|heidi.job|\(parts[0])|n1|None|2026-12-07T10:00:00|2026-12-07T10:00:\(start)|N/A|\n"
            return SlurmCommandResult(status: 0, stdout: line, stderr: "")
        case "scontrol" where argv == SlurmCommandLine.showConfig:
            return SlurmCommandResult(
                status: 0,
                stdout: "AccountingStorageType   = accounting_storage/none\n",
                stderr: ""
            )
        case "scontrol":
            let last = String(state.withLock { $0.last }.prefix { $0 != "@" })
            return SlurmCommandResult(
                status: 0,
                stdout: "JobId=7 JobName=heidi.job JobState=\(last) Reason=None "
                    + "ExitCode=\(last == "FAILED" ? "1:0" : "0:0") Restarts=\(restarts) "
                    + "NodeList=n1 SubmitTime=2026-12-07T10:00:00 StartTime=2026-12-07T10:00:01\n",
                stderr: ""
            )
        default: return SlurmCommandResult(status: 0, stdout: "", stderr: "")
        }
    }
}

@Suite("Slurm job watch")
struct SlurmJobWatchTests {
    static func run(_ squeue: [String], restarts: Int = 0) async throws -> StageRunResult {
        let directory = "/tmp/heidi-slurm-watch-\(UInt64.random(in: 0...UInt64.max))"
        defer { FileSystem.removeTree(directory) }
        let spec = LaunchSpec(argv: ["true"], environment: ["HEIDI_RUN_DIR": directory], workingDirectory: directory)
        var launch = StageLaunch(stage: .generate, round: 1, spec: spec, timeout: 60, grace: 1, instanceToken: "token")
        launch.executor = .slurm(SlurmJobSettings())
        launch.runID = "run_1"
        let launcher = SlurmStageLauncher(
            environment: ["HEIDI_SLURM_POLL": "0.01,0.02"],
            logger: Logger(label: "test"),
            runner: ScriptedSlurm(squeue: squeue, restarts: restarts)
        )
        let handle = try launcher.launch(launch) { _ in }
        return await handle.waitForEnd()
    }

    @Test("squeue missing a running job for a moment (as around a requeue) does not end the stage")
    func aMomentaryAbsenceIsNotAnEnd() async throws {
        let result = try await Self.run(["RUNNING", "RUNNING", "", "", "RUNNING", "RUNNING", "COMPLETED"])
        #expect(result.ending == .exited && result.exit.exitCode == 0, "\(result.ending) \(result.exit)")
    }

    @Test("a job Slurm requeued shows FAILED for a moment (one restart more than heidi saw): its next run is followed")
    func aRequeuedJobIsNotEndedByItsInterruptedRun() async throws {
        let result = try await Self.run(
            ["RUNNING@01", "FAILED@01", "PENDING@01", "PENDING@01", "RUNNING@05", "RUNNING@05", "COMPLETED@05"],
            restarts: 1
        )
        #expect(result.ending == .exited && result.exit.exitCode == 0, "\(result.ending) \(result.exit)")
    }
}
