@testable import HeidiEngine
import HeidiCore
import HeidiSlurm
import HeidiSupervisor
import Logging
import Synchronization
import Testing

/// A Slurm that answers from a script: `sbatch` gives job 7, `squeue` the next of its answers (the last one repeats;
/// "" is an answer that does not list the job), `scontrol show job` the state squeue last listed, no accounting.
final class ScriptedSlurm: SlurmCommandRunner, Sendable {
    private let state: Mutex<(answers: [String], last: String)>

    init(squeue states: [String]) { state = Mutex((states, "PENDING")) }

    func run(_ argv: [String], environment: [String: String]) async -> SlurmCommandResult {
        switch argv.first {
        case "sbatch": return SlurmCommandResult(status: 0, stdout: "7\n", stderr: "")
        case "squeue":
            let answer = state.withLock { state -> String in
                let next = state.answers.count > 1 ? state.answers.removeFirst() : state.answers.first ?? ""
                if !next.isEmpty { state.last = next }
                return next
            }
            let line = answer.isEmpty ? "" : "7|heidi.job|\(answer)|n1|None|2026-12-07T10:00:00|2026-12-07T10:00:01|N/A|\n"
            return SlurmCommandResult(status: 0, stdout: line, stderr: "")
        case "scontrol" where argv == SlurmCommandLine.showConfig:
            return SlurmCommandResult(status: 0, stdout: "AccountingStorageType   = accounting_storage/none\n", stderr: "")
        case "scontrol":
            let last = state.withLock { $0.last }
            return SlurmCommandResult(status: 0, stdout: "JobId=7 JobName=heidi.job JobState=\(last) Reason=None ExitCode=0:0 "
                                          + "NodeList=n1 SubmitTime=2026-12-07T10:00:00 StartTime=2026-12-07T10:00:01\n", stderr: "")
        default: return SlurmCommandResult(status: 0, stdout: "", stderr: "")
        }
    }
}

@Suite("Slurm job watch")
struct SlurmJobWatchTests {
    static func run(_ squeue: [String]) async throws -> StageRunResult {
        let directory = "/tmp/heidi-slurm-watch-\(UInt64.random(in: 0...UInt64.max))"
        defer { FileSystem.removeTree(directory) }
        let spec = LaunchSpec(argv: ["true"], environment: ["HEIDI_RUN_DIR": directory], workingDirectory: directory)
        var launch = StageLaunch(stage: .generate, round: 1, spec: spec, timeout: 60, grace: 1, instanceToken: "token")
        launch.executor = .slurm(SlurmJobSettings())
        launch.runID = "run_1"
        let launcher = SlurmStageLauncher(environment: ["HEIDI_SLURM_POLL": "0.01,0.02"], logger: Logger(label: "test"),
                                          runner: ScriptedSlurm(squeue: squeue))
        let handle = try launcher.launch(launch) { _ in }
        return await handle.waitForEnd()
    }

    @Test("squeue missing a running job for a moment (as around a requeue) does not end the stage")
    func aMomentaryAbsenceIsNotAnEnd() async throws {
        let result = try await Self.run(["RUNNING", "RUNNING", "", "", "RUNNING", "RUNNING", "COMPLETED"])
        #expect(result.ending == .exited && result.exit.exitCode == 0, "\(result.ending) \(result.exit)")
    }

}
