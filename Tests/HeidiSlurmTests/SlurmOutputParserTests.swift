import HeidiSlurm
import Testing

/// What Slurm 22.05's commands print (captured from the local test cluster, contrib/slurm/cluster.sh), read back.
@Suite("Slurm output parsing")
struct SlurmOutputParserTests {
    @Test func sbatchParsableGivesTheJobID() {
        #expect(SlurmOutputParser.submittedJobID("1234\n") == "1234")
        #expect(SlurmOutputParser.submittedJobID("1234;heiditest\n") == "1234")
        #expect(SlurmOutputParser.submittedJobID("sbatch: warning: something\n77\n") == "77")
        #expect(SlurmOutputParser.submittedJobID("Submitted batch job 12\n") == nil)
        #expect(SlurmOutputParser.submittedJobID("") == nil)
    }

    @Test func squeueFormatLinesBecomeJobs() throws {
        let output = """
            2|heidi.r1.train.a1.abc|RUNNING|n[1-2]|None|2026-12-07T06:40:31|2026-12-07T06:40:31|2027-12-07T06:40:31|
            3|heidi.r1.eval.a1.def|PENDING||Resources|2026-12-07T06:40:32|N/A|N/A|
            1|b.sh|FAILED|n1|NonZeroExitCode|2026-12-07T06:40:22|2026-12-07T06:40:23|2026-12-07T06:40:23|

            """
        let jobs = SlurmOutputParser.squeue(output)
        #expect(jobs.count == 3)
        let running = try #require(jobs.first)
        #expect(running.id == "2" && running.state == .running && running.nodes == "n[1-2]" && running.reason == nil)
        #expect(running.name == "heidi.r1.train.a1.abc")
        let pending = jobs[1]
        #expect(
            pending.state == .pending && pending.nodes == nil && pending.reason == "Resources"
                && pending.startTime == nil
        )
        #expect(jobs[2].state == .failed && jobs[2].state.isFinished)
    }

    @Test func scontrolOnelinerKeepsTheFirstOfEachKeyAndValuesWithSpaces() throws {
        let line =
            "JobId=1 JobName=b.sh UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901759 Nice=0 Account=(null) "
            + "QOS=(null) JobState=COMPLETED Reason=None Dependency=(null) Requeue=1 Restarts=2 BatchFlag=1 Reboot=0 ExitCode=3:0 "
            + "RunTime=00:00:00 TimeLimit=365-00:00:00 SubmitTime=2026-12-07T06:40:03 StartTime=2026-12-07T06:40:04 "
            + "EndTime=2026-12-07T06:40:04 Partition=debug NodeList=n1 BatchHost=n1 "
            + "Command=/tmp/b.sh sh -c echo \"JobState=RUNNING\" ExitCode=0:0 WorkDir=/tmp StdErr=/tmp/o StdIn=/dev/null StdOut=/tmp/o Power= \n"
        let job = try #require(SlurmOutputParser.scontrol(line))
        #expect(job.id == "1" && job.name == "b.sh")
        #expect(job.state == .completed, "the first JobState, not the one inside Command=")
        #expect(job.exitCode == 3 && job.signal == nil)
        #expect(job.restarts == 2 && job.nodes == "n1" && job.reason == nil)
        #expect(job.submitTime == "2026-12-07T06:40:03" && job.startTime == "2026-12-07T06:40:04")
        #expect(SlurmOutputParser.scontrol("slurm_load_jobs error: Invalid job id specified") == nil)
    }

    @Test func sacctTakesTheCurrentRecordOfEachJob() throws {
        let output = """
            2|train|REQUEUED|0:0|2026-12-07T06:40:29|2026-12-07T06:40:29|2026-12-07T06:40:30|n1
            2|train|COMPLETED|0:0|2026-12-07T06:40:31|2026-12-07T06:40:31|2026-12-07T06:40:34|n1
            5|x|CANCELLED by 0|0:9|2026-12-07T06:41:00|2026-12-07T06:41:01|2026-12-07T06:41:05|n2
            6|y|OUT_OF_ME+|0:125|2026-12-07T06:41:00|2026-12-07T06:41:01|2026-12-07T06:41:05|n2
            """
        let jobs = SlurmOutputParser.sacct(output)
        #expect(jobs.map(\.id) == ["2", "5", "6"])
        #expect(jobs[0].state == .completed && jobs[0].exitCode == 0 && jobs[0].signal == nil)
        #expect(jobs[1].state == .cancelled && jobs[1].signal == 9 && jobs[1].exitCode == nil)
        #expect(jobs[2].state == .outOfMemory)
    }

    @Test func statesParseInEveryForm() {
        #expect(SlurmJobState("RUNNING") == .running)
        #expect(SlurmJobState("CANCELLED by 1000") == .cancelled)
        #expect(SlurmJobState("CANCELLED+") == .cancelled)
        #expect(SlurmJobState("NODE_FAIL") == .nodeFail)
        #expect(SlurmJobState("PREEMPTED") == .preempted)
        #expect(SlurmJobState("TIMEOUT") == .timeout)
        #expect(SlurmJobState("REQUEUED").isQueued)
        #expect(SlurmJobState("COMPLETING").isRunning)
        #expect(!SlurmJobState("COMPLETING").isFinished)
        #expect(SlurmJobState("WEIRD_NEW") == .other("WEIRD_NEW"))
        #expect(!SlurmJobState("WEIRD_NEW").isFinished && !SlurmJobState("WEIRD_NEW").isRunning)
        #expect(SlurmJobState("OUT_OF_MEMORY").description == "OUT_OF_MEMORY")
    }

    @Test func exitCodesSplitIntoCodeOrSignal() {
        #expect(SlurmOutputParser.exitStatus("0:0")?.code == 0 && SlurmOutputParser.exitStatus("0:0")?.signal == nil)
        #expect(SlurmOutputParser.exitStatus("3:0")?.code == 3)
        #expect(SlurmOutputParser.exitStatus("0:15")?.code == nil && SlurmOutputParser.exitStatus("0:15")?.signal == 15)
        #expect(SlurmOutputParser.exitStatus("") == nil)
    }

    @Test func accountingIsOnUnlessStorageIsNone() {
        #expect(SlurmOutputParser.accountingEnabled("AccountingStorageType   = accounting_storage/none\n") == false)
        #expect(
            SlurmOutputParser.accountingEnabled("Foo = 1\nAccountingStorageType   = accounting_storage/slurmdbd\n")
                == true
        )
        #expect(SlurmOutputParser.accountingEnabled("nothing") == nil)
    }

    @Test func pendingAndRunningTimesComeFromSlurmsTimestamps() throws {
        let job = SlurmJobInfo(
            id: "1",
            state: .completed,
            submitTime: "2026-12-07T06:40:00",
            startTime: "2026-12-07T06:40:07",
            endTime: "2026-12-07T06:41:07"
        )
        let now = try #require(SlurmTime.epoch("2026-12-07T07:00:00"))
        #expect(job.pendingSeconds(now: now) == 7)
        #expect(job.runningSeconds(now: now) == 60)
        #expect(SlurmTime.epoch("Unknown") == nil && SlurmTime.epoch("N/A") == nil)
    }
}
