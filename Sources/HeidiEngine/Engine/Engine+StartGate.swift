import HeidiCore
import HeidiSupervisor

/// A stage attempt that is not running yet: held by the resource governor, or waiting out a retry backoff.
struct PendingStart {
    enum Phase: Equatable {
        /// Checking or holding; `holdingSince` is set once a `pipeline_throttled` start was recorded.
        case governor(holdingSince: UInt64?, reason: String?)
        case backoff(until: UInt64)
    }

    var id: Int
    var attempt: StageAttempt
    var phase: Phase
    var task: Task<Void, Never>?
}

extension Engine {
    /// Before an attempt starts: measure system CPU over a real interval and memory now; hold (one
    /// `pipeline_throttled` event when holding starts, one when it ends) while either is at or above its limit,
    /// and fail the stage after `limits.max_wait`. Event driven: it sleeps between checks, and only while a start
    /// is pending.
    func holdForResources(_ attempt: StageAttempt) {
        guard ResourceGovernor.isActive(maxCPUPercent: config.maxCPUPercent, maxMemoryPercent: config.maxMemoryPercent)
        else {
            launchAttempt(attempt)
            return
        }
        nextPendingID += 1
        let id = nextPendingID
        // The task runs on this actor, so only after the slot holds the start it looks for.
        let task = Task { await self.runGovernor(id) }
        slot = .pending(
            PendingStart(id: id, attempt: attempt, phase: .governor(holdingSince: nil, reason: nil), task: task)
        )
    }

    /// Checks every `holdInterval` while held, and once more when `limits.max_wait` has passed since the stage was
    /// due; only a hold still there at that last check fails the stage. (It used to give up as soon as the next
    /// check would fall after max_wait: with `max_wait: 2s` and checks a second apart, after 1 s.)
    private func runGovernor(_ id: Int) async {
        var previous = sampler.sample()
        var wait = sampler.window
        let maxWait = config.maxWait
        let due = MonotonicClock.nanoseconds()
        let deadline = due + UInt64(max(0, maxWait) * 1e9)
        while true {
            do { try await Task.sleep(nanoseconds: UInt64(max(0, wait) * 1e9)) } catch { return }
            guard let pending = pendingStart, pending.id == id, case .governor(let since, _) = pending.phase else {
                return
            }
            let current = sampler.sample()
            let reading = ResourceGovernor.evaluate(
                from: previous,
                to: current,
                maxCPUPercent: config.maxCPUPercent,
                maxMemoryPercent: config.maxMemoryPercent
            )
            previous = current
            let stage = pending.attempt.stage
            let now = MonotonicClock.nanoseconds()
            if reading.mayStart {
                if let since {
                    let held = Double(now - since) / 1e9
                    metrics.governorHeld(seconds: held)
                    throttled(
                        pending.attempt,
                        .info,
                        "\(stage.rawValue) may start after \(Units.formatDuration(held)) on hold: \(reading.summary)"
                    )
                }
                slot = .empty
                launchAttempt(pending.attempt)
                drainPendingInputs()
                persist()
                notifier.notify("STATUS=\(statusLine())")
                return
            }
            let holdingSince = since ?? now
            slot.updatePending { $0.phase = .governor(holdingSince: holdingSince, reason: reading.holdReason) }
            if since == nil {
                throttled(
                    pending.attempt,
                    .warn,
                    "\(stage.rawValue) held before starting: \(reading.holdReason ?? "")"
                        + "; waiting up to \(Units.formatDuration(maxWait))"
                )
            }
            guard now < deadline else {
                let held = Double(now - holdingSince) / 1e9
                let waited = Double(now - due) / 1e9
                metrics.governorHeld(seconds: held)
                throttled(
                    pending.attempt,
                    .error,
                    "\(stage.rawValue) gave up after \(Units.formatDuration(waited)) on hold: "
                        + "\(reading.holdReason ?? "")"
                )
                slot = .empty
                let allowed = config.stages[stage]?.allowFailure ?? false
                failStart(
                    pending.attempt,
                    "held by the resource governor for \(Units.formatDuration(waited)) "
                        + "(limits.max_wait \(Units.formatDuration(maxWait))): \(reading.holdReason ?? "")",
                    allowed: allowed
                )
                drainPendingInputs()
                return
            }
            // The next check, or the last one at the deadline (never over a shorter interval than the first check's,
            // which CPU% needs to mean anything).
            wait = max(min(sampler.holdInterval, Double(deadline - now) / 1e9), sampler.window)
        }
    }

    private func throttled(_ attempt: StageAttempt, _ level: EventLevel, _ message: String) {
        record(
            EventDraft(
                .pipelineThrottled,
                level: level,
                message: message,
                runID: attempt.runID,
                round: attempt.round,
                stage: attempt.stage.rawValue
            )
        )
        persist()
        notifier.notify("STATUS=\(statusLine())")
    }

    /// After a failed attempt with retries left: record `stage_retry`, wait the backoff, then try again (through
    /// the governor, like every start).
    func scheduleRetry(after failed: StageAttempt, because reason: String) {
        guard let settings = config.stages[failed.stage] else { return }
        let delay = RetryBackoff.delay(
            retry: failed.number,
            base: settings.retryBackoff,
            cap: settings.retryBackoffMax,
            unit: Double.random(in: 0..<1)
        )
        var next = failed
        next.number += 1
        record(
            EventDraft(
                .stageRetry,
                level: .warn,
                message:
                    "\(failed.stage.rawValue) attempt \(next.number)/\(next.total) in \(Units.formatDuration(delay)) "
                    + "(attempt \(failed.number) ended: \(reason))",
                runID: failed.runID,
                round: failed.round,
                stage: failed.stage.rawValue
            )
        )
        metrics.stageRetried(failed.stage)
        nextPendingID += 1
        let id = nextPendingID
        let task = Task {
            do { try await Task.sleep(nanoseconds: UInt64(delay * 1e9)) } catch { return }
            self.retryDue(id)
        }
        slot = .pending(
            PendingStart(
                id: id,
                attempt: next,
                phase: .backoff(until: MonotonicClock.nanoseconds() + UInt64(delay * 1e9)),
                task: task
            )
        )
        persist()
        notifier.notify("STATUS=\(statusLine())")
    }

    private func retryDue(_ id: Int) {
        guard let pending = pendingStart, pending.id == id else { return }
        slot = .empty
        holdForResources(pending.attempt)
        drainPendingInputs()
        persist()
        notifier.notify("STATUS=\(statusLine())")
    }

    /// The pipeline's `terminateStage` effect: stop the running child, or drop the start that is still pending.
    func terminateStage() {
        if let current {
            current.handle.requestStop()
            return
        }
        guard let pending = pendingStart else { return }
        slot = .empty
        pending.task?.cancel()
        let stage = pending.attempt.stage.rawValue
        switch pending.phase {
        case .governor(let since?, _):
            metrics.governorHeld(seconds: Double(MonotonicClock.nanoseconds() - since) / 1e9)
            throttled(pending.attempt, .info, "\(stage) no longer held: the run is stopping")
        case .governor, .backoff:
            break
        }
        enqueue(.stageFinished(failure: nil, at: clock.now().description))
    }

    /// `– held: CPU 97% >= max_cpu_pct 90%` or `– retry 2/3 in 4s`, for the status line.
    func pendingStartNote() -> String? {
        guard let pending = pendingStart else { return nil }
        switch pending.phase {
        case .governor(_, let reason?): return "held: \(reason)"
        case .governor: return nil
        case .backoff(let until):
            let left = Double(until > MonotonicClock.nanoseconds() ? until - MonotonicClock.nanoseconds() : 0) / 1e9
            return "retry \(pending.attempt.number)/\(pending.attempt.total) in \(Units.formatDuration(left))"
        }
    }
}
