/// Hand-written JSON for the status object: the hottest response of the control API (every `heidictl status`,
/// every poller). Keys are sorted, like `JSONCoding`, so both encodings produce the same document; a test holds them
/// equal. The one encoder writes a `StatusJSONTemplate`, and the document is the template filled in with the
/// snapshot's own live members.
extension StatusSnapshot {
    public func jsonBytes() -> [UInt8] {
        StatusJSONTemplate(self).render(child: child, updatedAt: .text(updatedAt))
    }

    /// Writes the status object, leaving a slot for each member that changes without a publication.
    func writeTemplate(into w: inout StatusJSONTemplate.Builder) {
        w.number("api_version", Double(apiVersion))
        w.bool("awaiting_train_now", awaitingTrainNow)
        if let child {
            w.beginObject("child")
            w.strings("argv", child.argv)
            w.slot(.counters, key: "counters")
            w.slot(.elapsed, key: "elapsed_s")
            w.slot(.executor, key: nil)  // a member only for a stage that runs elsewhere
            w.number("pgid", Double(child.pgid))
            w.number("pid", Double(child.pid))
            w.slot(.progress, key: "progress")
            w.optionalNumber("start_ticks", child.startTicks.map { Double($0) })
            w.string("started_at", child.startedAt)
            w.slot(.status, key: "status")
            w.number("timeout_s", child.timeoutSeconds)
            w.slot(.usage, key: "usage")
            w.endObject()
        } else {
            w.null("child")
        }
        w.beginObject("journal")
        w.optionalString("damage", journal.damage)
        w.string("head", journal.head)
        w.string("path", journal.path)
        w.number("seq", Double(journal.seq))
        w.endObject()
        w.failure("last_error", lastError)
        w.failure("last_warning", lastWarning)
        w.string("mode", mode.rawValue)
        w.bool("pause_requested", pauseRequested)
        w.bool("paused", paused)
        w.number("pid", Double(pid))
        w.number("round", Double(round))
        w.number("rounds", Double(rounds))
        w.optionalString("run_id", runID)
        w.optionalString("stage", stage)
        w.string("started_at", startedAt)
        w.string("state", state.rawValue)
        w.bool("stopping", stopping)
        w.string("supervision", supervision)
        w.bool("train_now_pending", trainNowPending)
        w.slot(.updatedAt, key: "updated_at")
        w.string("version", version)
    }
}

extension StatusJSONTemplate.Builder {
    /// A `PipelineFailure` member (`last_error`, `last_warning`), or null.
    mutating func failure(_ name: String, _ failure: PipelineFailure?) {
        guard let failure else {
            null(name)
            return
        }
        beginObject(name)
        string("at", failure.at)
        optionalNumber("exit_code", failure.exitCode.map { Double($0) })
        string("message", failure.message)
        number("round", Double(failure.round))
        optionalNumber("signal", failure.signal.map { Double($0) })
        optionalString("stage", failure.stage)
        endObject()
    }
}
