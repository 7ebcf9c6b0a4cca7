import HeidiCore
import HeidiEngine
import HeidiSupervisor

/// Everything about one stage attempt's job that is fixed before it is submitted: its name (run, round, stage,
/// attempt and the attempt's instance token, so a restarted heidid finds exactly this job), its files on the shared
/// filesystem, the `sbatch` argv and the environment the job gets, and heidi's limits.
struct SlurmJobPlan: Sendable {
    var name: String
    var outputPath: String
    var progressPath: String
    var sbatch: [String]
    /// The environment sbatch runs with and the job receives (`--export=ALL`): the stage's, with
    /// `HEIDI_STAGE_INSTANCE` and `HEIDI_PROGRESS_FILE`.
    var environment: [String: String]
    var timeout: Double
    var grace: Double
    var queueTimeout: Double?
    var poll: SlurmPolling
    var tap: OutputTap?
    var onProgress: (@Sendable () -> Void)?
    var createdNanos: UInt64

    /// `heidi.<run>.r<round>.<stage>.a<attempt>.<token>`: readable in `squeue`, unique per attempt.
    static func jobName(_ launch: StageLaunch) -> String {
        let run = (launch.runID ?? "norun").filter {
            ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" || $0 == "_"
        }.prefix(40)
        return
            "heidi.\(run).r\(launch.round).\(launch.stage.rawValue).a\(launch.attempt).\(launch.instanceToken.prefix(12))"
    }

    /// Where a run's job files go: `<run_dir>/slurm` (the run directory must be on a filesystem the nodes share).
    static func directory(_ launch: StageLaunch) -> String {
        let env = launch.spec.environment
        let base = env["HEIDI_RUN_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? env["HEIDI_STATE_DIR"] ?? "/tmp"
        return base + "/slurm"
    }

    init(_ launch: StageLaunch, job: SlurmJobSettings, script: String, poll: SlurmPolling) {
        name = Self.jobName(launch)
        let directory = Self.directory(launch)
        outputPath = "\(directory)/\(name).out"
        progressPath = "\(directory)/\(name).progress"
        var environment = launch.spec.environment
        environment["HEIDI_STAGE_INSTANCE"] = launch.instanceToken
        environment["HEIDI_PROGRESS_FILE"] = progressPath
        self.environment = environment
        timeout = launch.timeout
        grace = launch.grace
        queueTimeout = launch.queueTimeout
        self.poll = poll
        tap = launch.tap
        onProgress = launch.progress?.onStatusChange
        createdNanos = MonotonicClock.nanoseconds()
        // Slurm's own limit is a backstop above heidi's timeout and grace (a minute of slack: Slurm's limit is coarse).
        let limit = job.timeLimit ?? (launch.timeout + launch.grace + 60)
        let workingDirectory = launch.spec.workingDirectory ?? directory
        sbatch = SlurmCommandLine.sbatch(
            job,
            SlurmCommandLine.Submission(
                name: name,
                output: outputPath,
                workingDirectory: workingDirectory,
                timeLimit: limit,
                script: script,
                argv: launch.spec.argv
            )
        )
    }
}

/// How often a job is looked at: `minimum` after a change, growing by half each quiet poll up to `maximum`.
public struct SlurmPolling: Sendable, Equatable {
    public var minimum: Double
    public var maximum: Double

    public init(minimum: Double = 0.25, maximum: Double = 5) {
        self.minimum = minimum
        self.maximum = max(minimum, maximum)
    }

    /// `HEIDI_SLURM_POLL=MIN,MAX` (seconds) in heidid's environment, else the defaults.
    public static func from(environment: [String: String]) -> SlurmPolling {
        guard let text = environment["HEIDI_SLURM_POLL"] else { return SlurmPolling() }
        let parts = text.split(separator: ",").compactMap { Double($0) }
        guard parts.count == 2, parts[0] > 0 else { return SlurmPolling() }
        return SlurmPolling(minimum: parts[0], maximum: parts[1])
    }

    func next(after interval: Double, changed: Bool) -> Double { changed ? minimum : min(maximum, interval * 1.5) }
}

/// The batch script every job runs: it execs the stage's argv, given to sbatch after the script, unchanged (no shell
/// parses it: spaces, quotes and non-ASCII arrive byte for byte).
enum SlurmBatchScript {
    static let text = "#!/bin/sh\n# heidi (docs/slurm.md): run the stage's command, its argv unchanged.\nexec \"$@\"\n"

    /// Writes the script under `directory` (sbatch copies it to the controller at submission: it need not be shared).
    static func install(in directory: String) throws -> String {
        let path = directory + "/heidi-batch.sh"
        try FileSystem.createDirectories(directory)
        if (try? FileSystem.read(path)) != Array(text.utf8) {
            try FileSystem.writeAtomically(path, Array(text.utf8), mode: 0o755)
        }
        return path
    }
}
