import HeidiCore
import HeidiSupervisor
import Logging
import Synchronization

/// What one Slurm command printed and how it ended.
public struct SlurmCommandResult: Sendable, Equatable {
    /// The exit code; nil when it did not exit by itself (killed by its timeout or a signal).
    public var status: Int?
    public var stdout: String
    public var stderr: String

    public init(status: Int?, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// Runs a Slurm command (argv, no shell). The real one spawns supervised children; tests may substitute a script.
public protocol SlurmCommandRunner: Sendable {
    func run(_ argv: [String], environment: [String: String]) async -> SlurmCommandResult
}

/// Runs Slurm's commands as supervised children of heidid with a deadline (a hung `squeue` during a controller
/// outage is killed, its tree with it, and counted as "unreachable").
public struct ProcessSlurmRunner: SlurmCommandRunner {
    /// Seconds a command may take (Slurm's own MessageTimeout is 10 s by default, and commands retry once).
    public var timeout: Double
    private let logger: Logger

    public init(timeout: Double = 60, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    public func run(_ argv: [String], environment: [String: String]) async -> SlurmCommandResult {
        let captured = CapturedText()
        let spec = LaunchSpec(argv: argv, environment: environment, workingDirectory: "/")
        let stage: RunningStage
        do {
            stage = try RunningStage.start(
                spec,
                instanceToken: "slurm-\(UInt64.random(in: 0...UInt64.max))",
                timeout: timeout,
                grace: 2,
                logger: logger,
                onOutput: { captured.append($0) }
            )
        } catch {
            return SlurmCommandResult(status: nil, stdout: "", stderr: "\(error)")
        }
        let result = await stage.waitForEnd()
        let output = captured.text
        var stderr = output.stderr
        if result.ending != .exited {
            stderr += "\n\(argv[0]) did not answer within \(Int(timeout)) s: Socket timed out"
        }
        return SlurmCommandResult(
            status: result.ending == .exited ? result.exit.exitCode : nil,
            stdout: output.stdout,
            stderr: stderr
        )
    }
}

/// Collects a short command's stdout and stderr (bounded: Slurm's answers are small).
private final class CapturedText: Sendable {
    private let state = Mutex<(stdout: [UInt8], stderr: [UInt8])>(([], []))
    static let limit = 4 << 20

    func append(_ batch: OutputBatch) {
        state.withLock {
            if batch.stream == .stdout {
                if $0.stdout.count < Self.limit { $0.stdout += batch.bytes }
            } else if $0.stderr.count < Self.limit {
                $0.stderr += batch.bytes
            }
        }
    }

    var text: (stdout: String, stderr: String) {
        state.withLock { (String(decoding: $0.stdout, as: UTF8.self), String(decoding: $0.stderr, as: UTF8.self)) }
    }
}

/// Slurm's commands for heidi: submit, look up, signal, cancel; every answer parsed by `SlurmOutputParser`.
public struct SlurmClient: Sendable {
    let runner: any SlurmCommandRunner
    /// The environment the commands run with (heidid's: `SLURM_CONF`, `PATH`).
    let environment: [String: String]

    public init(runner: any SlurmCommandRunner, environment: [String: String]) {
        self.runner = runner
        self.environment = environment
    }

    private func run(
        _ argv: [String],
        environment: [String: String]? = nil,
        job: String? = nil
    ) async throws(SlurmError) -> String {
        let result = await runner.run(argv, environment: environment ?? self.environment)
        guard result.status == 0 else {
            let status = result.status.map { "exit \($0)" } ?? "no exit status"
            throw SlurmError.classify(command: argv[0], status: status, stderr: result.stderr, jobID: job)
        }
        return result.stdout
    }

    /// `sbatch`: the job id. `environment` is the stage's, which the job gets (`--export=ALL`).
    public func submit(_ argv: [String], environment: [String: String]) async throws(SlurmError) -> String {
        let output = try await run(argv, environment: environment)
        guard let id = SlurmOutputParser.submittedJobID(output) else {
            throw .unreadable(command: "sbatch", output: output)
        }
        return id
    }

    /// One `squeue` for these jobs; a job Slurm no longer lists is missing from the answer.
    public func query(_ ids: [String]) async throws(SlurmError) -> [SlurmJobInfo] {
        do {
            return SlurmOutputParser.squeue(try await run(SlurmCommandLine.squeue(jobs: ids), job: ids.first))
        } catch .unknownJob {
            return []  // squeue refuses a list of only unknown ids
        }
    }

    /// The jobs with this name, from `squeue` and, with accounting, from `sacct` (a job squeue has forgotten).
    public func find(named name: String, accounting: Bool) async throws(SlurmError) -> [SlurmJobInfo] {
        let queued = SlurmOutputParser.squeue(try await run(SlurmCommandLine.squeue(named: name)))
        guard queued.isEmpty, accounting else { return queued }
        return SlurmOutputParser.sacct(try await run(SlurmCommandLine.sacct(named: name)))
    }

    /// `scontrol show job`: exit code and restarts (nil when Slurm has forgotten the job).
    public func show(_ id: String) async throws(SlurmError) -> SlurmJobInfo? {
        do {
            return SlurmOutputParser.scontrol(try await run(SlurmCommandLine.scontrolShow(job: id), job: id))
        } catch .unknownJob {
            return nil
        }
    }

    /// Accounting's record of the job (nil while accounting has not heard of it yet).
    public func accounted(_ id: String) async throws(SlurmError) -> SlurmJobInfo? {
        SlurmOutputParser.sacct(try await run(SlurmCommandLine.sacct(job: id))).first { $0.id == id }
    }

    /// Whether the cluster keeps accounting (then `sacct` is the final word on a job).
    public func accountingEnabled() async throws(SlurmError) -> Bool {
        let output = try await run(SlurmCommandLine.showConfig)
        guard let enabled = SlurmOutputParser.accountingEnabled(output) else {
            throw .unreadable(command: "scontrol show config", output: output)
        }
        return enabled
    }

    public func signal(_ id: String, _ signal: String) async throws(SlurmError) {
        _ = try await run(SlurmCommandLine.signal(job: id, signal), job: id)
    }

    public func cancel(_ id: String) async throws(SlurmError) {
        _ = try await run(SlurmCommandLine.cancel(job: id), job: id)
    }
}
