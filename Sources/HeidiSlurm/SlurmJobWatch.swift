import HeidiCore
import HeidiSupervisor
import Logging

/// The life of one job, from submission (or adoption) to Slurm's final record. A controller that does not answer is
/// waited out (reported once, then again when it is back); heidi's timeout counts from RUNNING, `queue_timeout` while
/// queued; a stop cancels a queued job outright and gives a running one TERM, `stop_grace`, then KILL and a cancel.
struct SlurmJobWatch {
    let handle: SlurmJobHandle
    private var plan: SlurmJobPlan { handle.plan }
    private var client: SlurmClient { handle.client }

    /// Why heidi ended the job, if it did.
    private enum Verdict {
        case stopped
        case timedOut(String)
    }

    func run() async -> StageRunResult {
        guard let id = await submitOrFind() else {
            return handle.finish(.stopped, code: nil, signal: nil, note: "heidid: stopped before the job was submitted")
        }
        if case .failure(let error) = id {
            return handle.finish(.spawnFailed, code: nil, signal: nil, note: "heidid: \(error)")
        }
        guard case .success(let jobID) = id else { return handle.finish(.unknown("no job"), code: nil, signal: nil) }
        return await watch(jobID)
    }

    // MARK: Submission

    /// The job id: the adopted one, one found by name (a previous heidid submitted it but did not record its id), or
    /// a new submission. Nil when a stop came first; a failure when sbatch refused the job.
    private func submitOrFind() async -> Result<String, SlurmError>? {
        if let id = handle.jobID { return .success(id) }
        var interval = plan.poll.minimum
        var checkName = handle.adopting
        while true {
            if handle.stopRequested || handle.detached { return nil }
            do {
                if checkName, let found = try await client.find(named: plan.name, accounting: await accounting()).last {
                    handle.recordJob(found.id)
                    return .success(found.id)
                }
                checkName = false
                let id = try await client.submit(plan.sbatch, environment: plan.environment)
                handle.recordJob(id)
                logger.info("slurm job submitted", metadata: ["job": "\(id)", "name": "\(plan.name)"])
                _ = handle.controllerUnreachable(false)
                return .success(id)
            } catch .unreachable(let command, let detail) {
                // The submission may have reached the controller: look for it by name before submitting again.
                checkName = true
                if handle.controllerUnreachable(true) {
                    logger.warning(
                        "slurm controller unreachable; waiting",
                        metadata: ["command": "\(command)", "detail": "\(detail)"]
                    )
                }
            } catch {
                return .failure(error)
            }
            await pause(interval)
            interval = plan.poll.next(after: interval, changed: false)
        }
    }

    // MARK: Watching

    private func watch(_ id: String) async -> StageRunResult {
        var interval = plan.poll.minimum
        var runningSince: UInt64?
        var lastStart: String?
        var verdict: Verdict?
        var termSentAt: UInt64?
        var killed = false
        let queuedSince = MonotonicClock.nanoseconds()
        var missingSince: UInt64?
        var requeuedSince: UInt64?
        var missedAnswers = 0
        while true {
            if handle.detached {
                return handle.finish(.unknown("heidid detached from job \(id)"), code: nil, signal: nil)
            }
            handle.pump()
            var changed = false
            var info: SlurmJobInfo?
            var answered = false
            do {
                info = try await client.query([id]).first { $0.id == id }
                answered = true
                if handle.controllerUnreachable(false) {
                    logger.notice("slurm controller reachable again", metadata: ["job": "\(id)"])
                }
            } catch .unreachable(_, let detail) {
                if handle.controllerUnreachable(true) {
                    logger.warning(
                        "slurm controller unreachable; the job keeps running, heidid waits",
                        metadata: ["job": "\(id)", "detail": "\(detail)"]
                    )
                }
            } catch {
                logger.warning("squeue failed", metadata: ["job": "\(id)", "error": "\(error)"])
            }
            if let info {
                if info != handle.lastInfo {
                    changed = true
                    if info.state != handle.lastInfo?.state {
                        logger.info(
                            "slurm job state",
                            metadata: ["job": "\(id)", "state": "\(info.state)", "nodes": "\(info.nodes ?? "-")"]
                        )
                    }
                }
                handle.observed(info)
                if info.state.isRunning, runningSince == nil || (lastStart != nil && info.startTime != lastStart) {
                    if lastStart != nil, info.startTime != lastStart {
                        let count = handle.noteRequeue(id)
                        logger.warning(
                            "slurm job requeued and running again",
                            metadata: ["job": "\(id)", "restarts": "\(count)"]
                        )
                    }
                    runningSince = MonotonicClock.nanoseconds()
                    lastStart = info.startTime
                } else if info.state.isQueued, runningSince != nil {
                    runningSince = nil  // requeued: the next run gets its own timeout
                }
                if info.state.isFinished {
                    // Slurm's record decides; one that says the job runs again (a requeue seen mid-way) keeps the watch,
                    // and so, for up to 30 s, does a finished record that counts more restarts than the reruns heidi
                    // has seen: Slurm requeued the job and its next run is about to be queued.
                    let final = (try? await finalRecord(id)) ?? info
                    let now = MonotonicClock.nanoseconds()
                    var awaitingRerun = false
                    if verdict == nil, (final.restarts ?? 0) > handle.requeueCount {
                        let since = requeuedSince ?? now
                        requeuedSince = since
                        awaitingRerun = now - since < 30_000_000_000
                    }
                    if (final.state.isFinished && !awaitingRerun) || verdict != nil {
                        return await conclude(id, record: final, verdict: verdict)
                    }
                    handle.observed(final)
                }
            } else if answered, handle.lastInfo != nil || MonotonicClock.nanoseconds() - queuedSince > 30_000_000_000 {
                // squeue no longer lists it (forgotten after MinJobAge, or the controller's state was reset); right after
                // submission it may not list it yet, and around a requeue it may miss it for a moment: only an absence
                // that lasts (three answers, two seconds) asks for the final record, and only a finished one ends the stage.
                let since = missingSince ?? MonotonicClock.nanoseconds()
                missingSince = since
                missedAnswers += 1
                if missedAnswers >= 3, MonotonicClock.nanoseconds() - since >= 2_000_000_000 {
                    let final = try? await finalRecord(id)
                    if let final, final.state.isFinished { return await conclude(id, record: final, verdict: verdict) }
                    if final == nil {
                        handle.pump(final: true)
                        return handle.finish(
                            .unknown("Slurm no longer knows job \(id) and has no record of how it ended"),
                            code: nil,
                            signal: nil
                        )
                    }
                }
            }
            if info != nil {
                missingSince = nil
                missedAnswers = 0
            }
            let now = MonotonicClock.nanoseconds()
            if verdict == nil, handle.stopRequested { verdict = .stopped }
            if verdict == nil, let since = runningSince, Double(now - since) / 1e9 > plan.timeout {
                verdict = .timedOut("timed out after \(Units.formatDuration(plan.timeout)) of running")
            }
            if verdict == nil, runningSince == nil, let limit = plan.queueTimeout, info?.state.isQueued ?? true,
                Double(now - queuedSince) / 1e9 > limit
            {
                verdict = .timedOut("waited longer than queue_timeout \(Units.formatDuration(limit)) in the queue")
            }
            if verdict != nil {
                let queued = runningSince == nil && (info?.state.isQueued ?? handle.lastInfo?.state.isQueued ?? true)
                // A command the controller did not take is sent again on the next poll.
                if queued {
                    if termSentAt == nil, (try? await client.cancel(id)) != nil { termSentAt = now }
                } else if termSentAt == nil {
                    if (try? await client.signal(id, "TERM")) != nil { termSentAt = now }
                } else if !killed, let sent = termSentAt, Double(now - sent) / 1e9 >= plan.grace {
                    try? await client.signal(id, "KILL")
                    try? await client.cancel(id)
                    killed = true
                }
            }
            interval = plan.poll.next(after: interval, changed: changed)
            await pause(verdict != nil ? plan.poll.minimum : interval, wakeOnStop: verdict == nil)
        }
    }

    /// The job finished: Slurm's final record decides how the stage ended (unless heidi stopped or timed it out).
    private func conclude(_ id: String, record: SlurmJobInfo, verdict: Verdict?) async -> StageRunResult {
        logger.info(
            "slurm job ended",
            metadata: [
                "job": "\(id)", "state": "\(record.state)", "exit": "\(record.exitCode.map(String.init) ?? "-")",
                "signal": "\(record.signal.map(String.init) ?? "-")",
            ]
        )
        handle.observed(record)
        // The output file may lag behind the job's end on a shared filesystem: read until it stops growing.
        await settleOutput()
        switch verdict {
        case .stopped?: return handle.finish(.stopped, code: record.exitCode, signal: record.signal)
        case .timedOut(let why)?:
            return handle.finish(.timedOut, code: record.exitCode, signal: record.signal, note: "heidid: \(why)")
        case nil: break
        }
        let code = record.exitCode
        let signal = record.signal
        switch record.state {
        case .completed, .failed: return handle.finish(.exited, code: code, signal: signal)
        case .timeout:
            return handle.finish(
                .timedOut,
                code: code,
                signal: signal,
                note: "heidid: Slurm's time limit ended the job"
            )
        case .outOfMemory: return handle.finish(.outOfMemory, code: code, signal: signal)
        case .nodeFail: return handle.finish(.nodeFailed, code: code, signal: signal)
        case .preempted: return handle.finish(.preempted, code: code, signal: signal)
        case .cancelled:
            return handle.finish(.unknown("job \(id) was cancelled outside heidi"), code: code, signal: signal)
        default: return handle.finish(.unknown("job \(id) ended \(record.state)"), code: code, signal: signal)
        }
    }

    /// Slurm's final word on a finished job: accounting when the cluster keeps it (waiting a few seconds for it to
    /// catch up), else scontrol's record; scontrol's restart count either way.
    private func finalRecord(_ id: String) async throws(SlurmError) -> SlurmJobInfo? {
        let shown = try await client.show(id)
        if await accounting() {
            for _ in 0..<20 {
                if var accounted = try await client.accounted(id), accounted.state.isFinished {
                    accounted.restarts = shown?.restarts
                    accounted.reason = shown?.reason
                    return accounted
                }
                await pause(0.25)
            }
        }
        return shown
    }

    private func settleOutput() async {
        var previous: Int64 = -1
        for _ in 0..<8 {
            let size = handle.output.size
            if size == previous { break }
            previous = size
            handle.pump()
            await pause(0.1)
        }
        handle.pump(final: true)
    }

    private func accounting() async -> Bool { await handle.accounting.enabled(client) }

    private var logger: Logger { handle.logger }

    /// Sleeps `seconds`, waking early when a stop is requested (`wakeOnStop`).
    private func pause(_ seconds: Double, wakeOnStop: Bool = true) async {
        let end = MonotonicClock.nanoseconds() + UInt64(seconds * 1e9)
        while MonotonicClock.nanoseconds() < end {
            try? await Task.sleep(nanoseconds: UInt64(min(0.05, seconds) * 1e9))
            if wakeOnStop && handle.stopRequested { return }
        }
    }
}
