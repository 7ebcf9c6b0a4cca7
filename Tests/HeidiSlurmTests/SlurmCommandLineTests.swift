import HeidiCore
import HeidiSlurm
import Testing

@Suite("Slurm command lines")
struct SlurmCommandLineTests {
    static let submission = SlurmCommandLine.Submission(
        name: "heidi.run1.r2.train.a1.0123456789ab",
        output: "/shared/run1/slurm/x.out",
        workingDirectory: "/shared/repo",
        timeLimit: 7261,
        script: "/shared/run1/slurm/heidi-batch.sh",
        argv: ["python3", "train.py", "a b", "\"q\"", "ü", "$HOME"]
    )

    @Test func sbatchGetsHeidisOptionsThenTheStagesThenScriptAndArgvUnchanged() {
        let job = SlurmJobSettings(
            partition: "gpu",
            account: "acct",
            qos: "q",
            gres: "gpu:1",
            nodes: 2,
            ntasksPerNode: 1,
            cpusPerTask: 4,
            mem: "16G",
            requeue: false,
            extra: ["--exclusive"]
        )
        let argv = SlurmCommandLine.sbatch(job, Self.submission)
        #expect(
            argv == [
                "sbatch", "--parsable", "--job-name=heidi.run1.r2.train.a1.0123456789ab",
                "--output=/shared/run1/slurm/x.out",
                "--open-mode=append", "--chdir=/shared/repo", "--export=ALL", "--time=122", "--partition=gpu",
                "--account=acct",
                "--qos=q", "--gres=gpu:1", "--nodes=2", "--ntasks-per-node=1", "--cpus-per-task=4", "--mem=16G",
                "--no-requeue",
                "--exclusive", "/shared/run1/slurm/heidi-batch.sh", "python3", "train.py", "a b", "\"q\"", "ü", "$HOME",
            ]
        )
        #expect(!argv.contains("--wait") && !argv.contains { $0.hasPrefix("--wrap") } && argv.first == "sbatch")
    }

    @Test func queriesAreBatchedAndSignalsReachEveryProcess() {
        #expect(SlurmCommandLine.squeue(jobs: ["1", "2"]).contains("--jobs=1,2"))
        #expect(SlurmCommandLine.squeue(jobs: ["1"]).contains("--states=all"))
        #expect(SlurmCommandLine.signal(job: "7", "TERM") == ["scancel", "--signal=TERM", "--full", "7"])
        #expect(SlurmCommandLine.cancel(job: "7") == ["scancel", "7"])
        #expect(SlurmCommandLine.sacct(job: "7").contains("--jobs=7"))
    }
}
