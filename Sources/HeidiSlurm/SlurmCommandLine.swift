import HeidiCore

/// The argv of every Slurm command heidi runs (no shell: each value is one argument, never re-split or expanded).
public enum SlurmCommandLine {
    /// The `squeue --Format` fields `SlurmOutputParser.squeue` reads, `|` after each.
    static let squeueFormat = "JobID:|,Name:|,State:|,NodeList:|,Reason:|,SubmitTime:|,StartTime:|,EndTime:|"
    static let sacctFormat = "JobID,JobName,State,ExitCode,Submit,Start,End,NodeList"

    /// What one submission needs besides the stage's `slurm:` settings.
    public struct Submission: Sendable, Equatable {
        public var name: String
        public var output: String
        public var workingDirectory: String
        public var timeLimit: Double
        public var script: String
        public var argv: [String]

        public init(
            name: String,
            output: String,
            workingDirectory: String,
            timeLimit: Double,
            script: String,
            argv: [String]
        ) {
            self.name = name
            self.output = output
            self.workingDirectory = workingDirectory
            self.timeLimit = timeLimit
            self.script = script
            self.argv = argv
        }
    }

    /// `sbatch --parsable …options… SCRIPT ARGV…`: the batch script execs ARGV unchanged. Output and errors go to one
    /// file, appended to (a requeued job's first run is kept); the environment sbatch runs with reaches the job.
    public static func sbatch(_ job: SlurmJobSettings, _ submission: Submission) -> [String] {
        var argv = [
            "sbatch", "--parsable", "--job-name=\(submission.name)", "--output=\(submission.output)",
            "--open-mode=append",
            "--chdir=\(submission.workingDirectory)", "--export=ALL", "--time=\(minutes(submission.timeLimit))",
        ]
        if let value = job.partition { argv.append("--partition=\(value)") }
        if let value = job.account { argv.append("--account=\(value)") }
        if let value = job.qos { argv.append("--qos=\(value)") }
        if let value = job.gpus { argv.append("--gpus=\(value)") }
        if let value = job.gres { argv.append("--gres=\(value)") }
        if let value = job.nodes { argv.append("--nodes=\(value)") }
        if let value = job.ntasksPerNode { argv.append("--ntasks-per-node=\(value)") }
        if let value = job.cpusPerTask { argv.append("--cpus-per-task=\(value)") }
        if let value = job.mem { argv.append("--mem=\(value)") }
        if let value = job.requeue { argv.append(value ? "--requeue" : "--no-requeue") }
        return argv + job.extra + [submission.script] + submission.argv
    }

    /// Slurm's `--time` in whole minutes, rounded up (at least one).
    static func minutes(_ seconds: Double) -> Int { max(1, Int((seconds / 60).rounded(.up))) }

    /// One `squeue` for several jobs, finished ones included while Slurm keeps them (MinJobAge).
    public static func squeue(jobs ids: [String]) -> [String] {
        ["squeue", "--noheader", "--states=all", "--jobs=\(ids.joined(separator: ","))", "--Format=\(squeueFormat)"]
    }

    /// The jobs with this name (re-attaching after a restart that lost the job id).
    public static func squeue(named name: String) -> [String] {
        ["squeue", "--noheader", "--states=all", "--name=\(name)", "--Format=\(squeueFormat)"]
    }

    public static func scontrolShow(job id: String) -> [String] { ["scontrol", "show", "job", "--oneliner", id] }

    public static let showConfig = ["scontrol", "show", "config"]

    /// The job's allocation record (not its steps) from accounting.
    public static func sacct(job id: String) -> [String] {
        ["sacct", "--noheader", "--parsable2", "--allocations", "--jobs=\(id)", "--format=\(sacctFormat)"]
    }

    /// Accounting's jobs with this name (from the last week: a restart that lost the id finds it by name).
    public static func sacct(named name: String) -> [String] {
        [
            "sacct", "--noheader", "--parsable2", "--allocations", "--name=\(name)", "--starttime=now-7days",
            "--format=\(sacctFormat)",
        ]
    }

    /// Sends `signal` (`TERM`, `KILL`) to every process of the job (the batch step and its other steps).
    public static func signal(job id: String, _ signal: String) -> [String] {
        ["scancel", "--signal=\(signal)", "--full", id]
    }

    /// Cancels the job (pending: it never runs; running: Slurm's own TERM, KillWait, KILL).
    public static func cancel(job id: String) -> [String] { ["scancel", id] }
}
