import HeidiAPI
import HeidiControl
import HeidiCore
import HeidiJournal

#if canImport(Glibc)
import Glibc
#endif

/// The engine's timers around the journal (checkpoints, group commit, storage retries) and state.json's failure;
/// the journal's own state is `Journal`'s.
struct JournalRuntime {
    var checkpointTimer: Task<Void, Never>?
    var batchSyncScheduled = false
    /// Why state.json cannot be written (events still can).
    var stateFileFailure: String?
    var retry: Task<Void, Never>?
    var retryDelay: Double = 1
}

extension Engine {
    // MARK: Appending

    /// Appends `draft`, preceded by a `journal_recovered` record when writes were failing and by a checkpoint when
    /// one is due (so no line is ever more than one interval past the last checkpoint), then publishes it.
    func appendEvent(_ draft: EventDraft, at time: Timestamp) throws(JournalError) -> WrittenEvent {
        guard let journal else {
            throw .io(FileSystemError(path: config.journalPath, operation: "append (journal not open)", errno: EBADF))
        }
        if journal.failure != nil { try recoverJournal(at: time) }
        if let checkpoint = try journal.appendDueCheckpoint(at: time) { published(checkpoint) }
        let written = try journal.append(draft, at: time)
        published(written)
        return written
    }

    /// Sends a written line on (the journal has handed it to its followers): journald (after the group commit
    /// under `batch`), status, metrics; prunes after a rotation.
    private func published(_ written: WrittenEvent) {
        publishStatus()  // the journal head moved
        if journal?.policy == .batch {
            scheduleBatchSync()
        } else {
            mirror?.event(written)
        }
        metrics.count(written.draft)
        if journal?.takeRotation() == true { pruneRotatedJournals() }
    }

    /// A write failed: the event is lost (counted), new stages are blocked, and the condition is reported in
    /// status (`last_error`), the systemd status line and the log (journald under systemd) until a retry works.
    func journalWriteFailed(_ error: JournalError, lost type: EventType?) {
        let message = "\(error)"
        if journal?.writeFailed(message, lost: type, at: clock.now()) ?? false {
            logger.critical(
                "journal write failed: no new stage starts until writes work again",
                metadata: ["error": "\(message)", "event": "\(type?.rawValue ?? "(sync)")"]
            )
            notifier.notify("STATUS=journal cannot be written: \(message)")
        }
        storageChanged()
    }

    /// state.json could not be replaced: events are still recorded, but no stage starts (a restart could not
    /// recover the run) until a retry works.
    func stateFileWriteFailed(_ error: String) {
        if journalRuntime.stateFileFailure == nil {
            logger.error(
                "state.json write failed: no new stage starts until it works again",
                metadata: ["error": "\(error)", "path": "\(config.stateFilePath)"]
            )
        }
        journalRuntime.stateFileFailure = error
        storageChanged()
    }

    func stateFileWritten() {
        guard journalRuntime.stateFileFailure != nil else { return }
        journalRuntime.stateFileFailure = nil
        logger.notice("state.json writes work again", metadata: ["path": "\(config.stateFilePath)"])
        storageChanged()
    }

    /// `storageFailure` (status, stage starts) follows the journal and state.json; a retry runs while either fails.
    private func storageChanged() {
        storageFailure = journal?.failure?.error ?? journalRuntime.stateFileFailure.map { "state.json: \($0)" }
        if storageFailure == nil {
            journalRuntime.retry?.cancel()
            journalRuntime.retry = nil
            journalRuntime.retryDelay = 1
        } else {
            scheduleStorageRetry()
        }
    }
    /// Writes the `journal_recovered` record (how long writes failed, what was lost) and a checkpoint.
    private func recoverJournal(at time: Timestamp) throws(JournalError) {
        guard let journal, let recovered = try journal.recover(at: time, runID: state.runID, round: state.round) else {
            return
        }
        let (failure, written) = (recovered.failure, recovered.written)
        storageChanged()
        logger.notice(
            "journal writes work again",
            metadata: ["journal": "\(journal.path)", "lost_events": "\(failure.lostCount)"]
        )
        notifier.notify("STATUS=\(statusLine())")
        published(written)
        try flushDurable()
        try appendCheckpoint(at: time)
    }

    private func scheduleStorageRetry() {
        guard journalRuntime.retry == nil, !shuttingDown else { return }
        let delay = journalRuntime.retryDelay
        journalRuntime.retryDelay = min(delay * 2, 5)
        journalRuntime.retry = Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            guard !Task.isCancelled else { return }
            await self?.retryStorage()
        }
    }

    /// Tries the journal and state.json again (timer, or an action that needs them).
    func retryStorage() {
        journalRuntime.retry = nil
        guard storageFailure != nil, !shuttingDown else { return }
        if journal?.failure != nil {
            do { try recoverJournal(at: clock.now()) } catch { journalWriteFailed(error, lost: nil) }
        }
        persist()
        if storageFailure != nil { scheduleStorageRetry() }
    }

    // MARK: Actions while the journal fails

    /// An action that would start a stage is refused (503) while the journal cannot be written; every action
    /// first retries the journal, so freed space is noticed at once.
    func journalRefusal(for action: Action) -> APIErrorBody? {
        if storageFailure != nil { retryStorage() }
        guard let storageFailure, [.start, .trainNow, .resume, .step].contains(action) else { return nil }
        return APIErrorBody(
            .unavailable,
            "cannot \(action.rawValue): \(storageProblem) (\(storageFailure)); "
                + "heidid retries and recovers by itself when writes work again"
        )
    }

    /// An action carried out while the journal or state.json could not be written answers 503 all the same.
    func journalFailure(after action: Action) -> APIErrorBody? {
        guard let storageFailure else { return nil }
        let what = journal?.failure != nil ? "its events are not recorded" : "state.json is stale"
        return APIErrorBody(
            .unavailable,
            "\(action.rawValue) was carried out, but \(storageProblem) (\(storageFailure)): \(what)"
        )
    }

    private var storageProblem: String {
        journal?.failure != nil ? "the journal cannot be written" : "state.json cannot be written"
    }

    // MARK: Group commit

    private func scheduleBatchSync() {
        guard !journalRuntime.batchSyncScheduled else { return }
        journalRuntime.batchSyncScheduled = true
        // batch_delay bounds the wait until durable: the fdatasync itself is part of it.
        let delay = UInt64(max(0.001, config.journalBatchDelay - (journal?.lastSyncSeconds ?? 0)) * 1e9)
        Task { [weak self] in
            try? await Task.sleep(nanoseconds: delay)
            await self?.syncJournal()
        }
    }

    /// One fdatasync for every event appended since the last one; then journald gets them. A failed sync loses
    /// nothing yet: the lines wait for a sync that works.
    func syncJournal() {
        journalRuntime.batchSyncScheduled = false
        do { try flushDurable() } catch { journalWriteFailed(error, lost: nil) }
    }

    private func flushDurable() throws(JournalError) {
        guard let journal else { return }
        for written in try journal.sync() { mirror?.event(written) }
    }

    // MARK: Damage

    /// Verifies the whole journal against the head state.json recorded, before anything is appended, moving
    /// untrusted bytes aside when it is broken (`JournalStartupCheck`).
    func checkJournal(against persisted: StateFile?) throws(JournalError) -> JournalStartupCheck {
        var anchor: JournalAnchor?
        if let head = persisted?.status.journal, head.seq > 0, head.path == config.journalPath {
            anchor = JournalAnchor(seq: head.seq, hash: head.head, source: config.stateFilePath)
        }
        return try JournalStartupCheck.run(journal: config.journalPath, anchor: anchor, at: clock.now())
    }

    /// Records damage found at start as `journal_damaged` (critical) and says so in the log, systemd's status
    /// line and status (`journal.damage`), which also shows damage recorded by earlier starts. A finding that
    /// cannot be recorded stops the start: heidid never runs over damage it did not record.
    func recordDamage(_ check: JournalStartupCheck) throws(JournalError) {
        journal?.damage = check.recorded.last?.message
        let findings =
            check.unrecorded.map { "recorded late (an earlier start stopped before recording it): " + $0 }
            + (check.found.map { [$0.message] } ?? [])
        for message in findings {
            logger.critical(
                "the journal was damaged: recorded as journal_damaged; 'heidictl journal verify' reports it",
                metadata: ["finding": "\(message)"]
            )
            guard record(EventDraft(.journalDamaged, level: .critical, message: message)) != nil else {
                throw .damageNotRecorded(
                    path: config.journalPath,
                    finding: message,
                    reason: storageFailure ?? "the journal cannot be written"
                )
            }
            journal?.damage = message
        }
        guard !findings.isEmpty else { return }
        publishStatus()
        notifier.notify("STATUS=journal damaged (recorded): \(check.found?.reason ?? "found by an earlier start")")
    }

    // MARK: Checkpoints

    /// Reads (or creates, mode 0600) the checkpoint key of `journal.key_file`.
    func loadJournalKey() throws(JournalKeyError) {
        let (key, created) = try JournalKey.loadOrCreate(config.journalKeyPath)
        journal?.useKey(key)
        if created {
            logger.notice(
                "created the journal checkpoint key; keep a copy off this host to verify checkpoints independently",
                metadata: ["path": "\(key.path)", "key_id": "\(key.id)"]
            )
        }
    }

    private func appendCheckpoint(at time: Timestamp) throws(JournalError) {
        if let checkpoint = try journal?.appendCheckpoint(at: time) { published(checkpoint) }
    }

    /// Writes a checkpoint now (at start, before `daemon_stop`, and from the timer).
    func sealJournal() {
        guard let journal, journal.key != nil else { return }
        do {
            let now = clock.now()
            if journal.failure != nil { try recoverJournal(at: now) } else { try appendCheckpoint(at: now) }
        } catch {
            journalWriteFailed(error, lost: .checkpoint)
        }
    }

    /// Seals what the journal holds and starts the checkpoint timer: it wakes only when the next checkpoint is
    /// due (interval after the last one, whatever wrote it), also when the daemon is idle.
    func startSealing() {
        sealJournal()
        journalRuntime.checkpointTimer?.cancel()
        journalRuntime.checkpointTimer = Task { [weak self] in
            while !Task.isCancelled {
                guard let delay = await self?.secondsUntilCheckpoint() else { return }
                try? await Task.sleep(nanoseconds: UInt64(max(delay, 0.05) * 1e9))
                guard !Task.isCancelled else { return }
                await self?.checkpointIfDue()
            }
        }
    }

    private func secondsUntilCheckpoint() -> Double? {
        guard let journal, journal.key != nil, !shuttingDown else { return nil }
        return journal.secondsUntilCheckpoint(now: clock.now())
    }

    private func checkpointIfDue() {
        if journal?.checkpointDue(now: clock.now()) ?? false { sealJournal() }
    }

    /// The checkpoint heidid writes before `daemon_stop`; stops the timer.
    func stopSealing() {
        journalRuntime.checkpointTimer?.cancel()
        journalRuntime.checkpointTimer = nil
        sealJournal()
    }

    /// Makes everything durable, hands journald the rest, ends the followers' streams and closes the file.
    func closeJournal() {
        syncJournal()
        journalRuntime.retry?.cancel()
        journalRuntime.retry = nil
        journal?.close()
    }

    // MARK: Retention

    /// After a rotation: removes the rotated files beyond `journal.keep_rotated`, each only after its
    /// `journal_pruned` record is in the journal.
    private func pruneRotatedJournals() {
        let plan: [(path: String, record: PruneRecord)]
        do { plan = try JournalRetention.plan(journal: config.journalPath, keep: config.journalKeepRotated) } catch {
            logger.error("journal retention skipped", metadata: ["error": "\(error)"])
            return
        }
        for (path, record) in plan {
            guard self.record(EventDraft(.journalPruned, message: record.message)) != nil else { return }
            if unlink(path) != 0 {
                logger.error(
                    "cannot remove a pruned journal file",
                    metadata: ["path": "\(path)", "error": "\(errnoDescription(errno))"]
                )
            }
        }
        if !plan.isEmpty { FileSystem.syncDirectory(of: config.journalPath) }
    }

    // MARK: Followers

    public func events(after: UInt64, follow: Bool) async -> Result<AsyncStream<[UInt8]>, APIErrorBody> {
        let endSeq = follow && !shuttingDown ? nil : (journal?.lastSeq ?? 0)
        let feed = JournalFeed(path: config.journalPath, after: after, endSeq: endSeq) { [weak self] seq in
            await self?.subscribeLive(after: seq) ?? .closed
        }
        return .success(AsyncStream(unfolding: { await feed.next() }))
    }

    /// Live lines for a feed that has read the files up to `seq`; decided in one actor turn, so no line written
    /// in between is lost or repeated.
    private func subscribeLive(after seq: UInt64) -> JournalFeed.Subscription {
        guard !shuttingDown, let journal else { return .closed }
        return journal.subscribe(after: seq)
    }
}
