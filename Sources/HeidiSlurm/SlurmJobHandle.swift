import HeidiCore
import HeidiEngine
import HeidiSupervisor
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One stage attempt as a Slurm batch job, behind the engine's `StageHandle`: `waitForEnd` submits it (or adopts the
/// job a previous heidid submitted), watches it with `squeue` and backoff, tails its output and progress files from
/// the shared filesystem, enforces `timeout` from RUNNING and `queue_timeout` while pending, stops it (TERM to every
/// process, `stop_grace`, KILL, cancel) and takes Slurm's record (sacct, else scontrol) as the final word. A job
/// Slurm cannot account for ends `unknown`, never as a success.
public final class SlurmJobHandle: StageHandle, Sendable {
    let plan: SlurmJobPlan
    let client: SlurmClient
    let onOutput: OutputHandler
    let onRecord: (@Sendable (ExecutorRecord) -> Void)?
    let logger: Logger
    let output: SlurmFileTail
    let progressFile: SlurmFileTail
    let accounting: SlurmAccounting
    /// Adopted after a restart without a job id: look for the job by name before submitting.
    let adopting: Bool
    private let shared: Mutex<Shared>

    struct Shared {
        var jobID: String?
        var info: SlurmJobInfo?
        var stopRequested = false
        var detached = false
        var progress: StageProgress?
        var unreachableSince: UInt64?
        var lines: Int64 = 0
        var bytes: Int64 = 0
        var excerpt = OutputTail(capacity: 16 * 1024)
        var assembler = LineAssembler()
        var started = false
        var requeues = 0
    }

    init(
        plan: SlurmJobPlan,
        client: SlurmClient,
        accounting: SlurmAccounting,
        jobID: String?,
        adopting: Bool,
        logger: Logger,
        onOutput: @escaping OutputHandler,
        onRecord: (@Sendable (ExecutorRecord) -> Void)?
    ) {
        self.plan = plan
        self.accounting = accounting
        self.adopting = adopting
        self.client = client
        self.onOutput = onOutput
        self.onRecord = onRecord
        self.logger = logger
        output = SlurmFileTail(path: plan.outputPath, resume: adopting)
        progressFile = SlurmFileTail(path: plan.progressPath, resume: adopting)
        var initial = Shared()
        initial.jobID = jobID
        shared = Mutex(initial)
    }

    // MARK: StageHandle

    /// A batch job has no local process: 0 (the executor record and status name its job instead).
    public var pid: Int32 { 0 }
    public var startTicks: UInt64 { 0 }
    public var progress: StageProgress? { shared.withLock { $0.progress } }

    public func requestStop() { shared.withLock { $0.stopRequested = true } }

    /// heidid shuts down: the job keeps running and the next heidid adopts it by its record; this handle stops
    /// watching (and writes no more output).
    public func detach() -> Bool {
        shared.withLock { $0.detached = true }
        return true
    }

    var detached: Bool { shared.withLock { $0.detached } }

    /// The job's name, output file and (once sbatch answered) its id: what a restarted heidid needs to find it.
    public var executorRecord: ExecutorRecord? {
        let (id, requeues) = shared.withLock { ($0.jobID, $0.requeues) }
        var fields = ["job_name": plan.name, "output": plan.outputPath]
        if let id { fields["job_id"] = id }
        if requeues > 0 { fields["requeues"] = String(requeues) }
        return ExecutorRecord(executor: "slurm", fields: fields)
    }

    /// Job id, Slurm state, node list, pending and running time, for status.
    public var executorStatus: [String: String]? {
        let (id, info, unreachable) = shared.withLock { ($0.jobID, $0.info, $0.unreachableSince) }
        var fields = ["executor": "slurm", "job_name": plan.name, "state": id == nil ? "SUBMITTING" : "PENDING"]
        if let id { fields["job_id"] = id }
        if let info {
            fields["state"] = info.state.description
            if let nodes = info.nodes { fields["nodes"] = nodes }
            if let reason = info.reason { fields["reason"] = reason }
            let now = Int64(time(nil))
            if let pending = info.pendingSeconds(now: now) { fields["pending_seconds"] = String(Int(pending)) }
            if let running = info.runningSeconds(now: now) { fields["running_seconds"] = String(Int(running)) }
        }
        if unreachable != nil { fields["controller"] = "unreachable" }
        return fields
    }

    public func waitForEnd() async -> StageRunResult {
        let first = shared.withLock { state -> Bool in
            defer { state.started = true }
            return !state.started
        }
        guard first else { return finish(.unknown("waitForEnd called twice"), code: nil, signal: nil) }
        return await SlurmJobWatch(handle: self).run()
    }

    // MARK: For the watch

    var jobID: String? { shared.withLock { $0.jobID } }
    var stopRequested: Bool { shared.withLock { $0.stopRequested } }

    func recordJob(_ id: String) {
        shared.withLock { $0.jobID = id }
        if let record = executorRecord { onRecord?(record) }
    }

    func observed(_ info: SlurmJobInfo) { shared.withLock { $0.info = info } }

    /// How many reruns of the job heidi has seen (or a previous heidid recorded).
    var requeueCount: Int {
        get { shared.withLock { $0.requeues } }
        set { shared.withLock { $0.requeues = newValue } }
    }

    var lastInfo: SlurmJobInfo? { shared.withLock { $0.info } }

    /// Notes the controller unreachable (or reachable again); true when this changes it.
    func controllerUnreachable(_ unreachable: Bool) -> Bool {
        shared.withLock { state in
            if unreachable, state.unreachableSince == nil {
                state.unreachableSince = MonotonicClock.nanoseconds()
                return true
            }
            if !unreachable, state.unreachableSince != nil {
                state.unreachableSince = nil
                return true
            }
            return false
        }
    }

    /// Delivers what the job appended to its output file (`final`: the rest, even without a newline) and reads new
    /// progress messages.
    func pump(final: Bool = false) {
        let bytes = output.read(final: final)
        if !bytes.isEmpty {
            var batch = OutputBatch(stream: .stdout)
            shared.withLock { state in
                bytes.withUnsafeBytes { state.assembler.feed($0, into: &batch) }
                if final { state.assembler.finish(into: &batch) }
                state.lines += Int64(batch.lineCount)
                state.bytes += Int64(bytes.count)
                state.excerpt.append(batch.bytes)
            }
            if let tap = plan.tap { bytes.withUnsafeBytes { tap(.stdout, $0) } }
            if !batch.bytes.isEmpty { onOutput(batch) }
            output.advance(by: bytes.count)
        }
        let messages = progressFile.read(final: final)
        guard !messages.isEmpty else { return }
        shared.withLock { state in
            var progress = state.progress ?? StageProgress()
            for line in messages.split(separator: 0x0a) {
                _ = progress.apply(StageNotification.parse(Array(line)))
            }
            state.progress = progress
        }
        progressFile.advance(by: messages.count)
        plan.onProgress?()
    }

    /// Slurm requeued the job and it runs again: the stage log says so, and the record (state.json) counts it.
    func noteRequeue(_ id: String) -> Int {
        let count = shared.withLock { state -> Int in
            state.requeues += 1
            return state.requeues
        }
        let text = "──── heidid: slurm job \(id) was requeued and runs again (restart \(count)) ────\n"
        onOutput(OutputBatch(stream: .stderr, bytes: Array(text.utf8), lineCount: 1))
        if let record = executorRecord { onRecord?(record) }
        return count
    }

    /// The result the engine gets.
    func finish(_ ending: StageEnding, code: Int?, signal: Int?, note: String? = nil) -> StageRunResult {
        let (lines, bytes, excerpt, progress) = shared.withLock { ($0.lines, $0.bytes, $0.excerpt, $0.progress) }
        var text = excerpt.excerpt(lines: 20)
        if let note { text = text.isEmpty ? note : text + "\n" + note }
        return StageRunResult(
            remote: ending,
            exit: ExitInfo(exitCode: code, signal: signal),
            wallMilliseconds: Int64((MonotonicClock.nanoseconds() - plan.createdNanos) / 1_000_000),
            outputLines: lines,
            outputBytes: bytes,
            excerpt: text,
            progress: progress
        )
    }
}
