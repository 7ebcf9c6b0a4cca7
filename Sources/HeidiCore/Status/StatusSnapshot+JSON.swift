/// Hand-written JSON for the status object: the hottest response of the control API (every `heidictl status`,
/// every poller), encoded here in a few microseconds instead of through JSONEncoder. Keys are sorted, like
/// `JSONCoding`, so both encodings produce the same document; a test holds them equal.
extension StatusSnapshot {
    public func jsonBytes() -> [UInt8] {
        var object = JSONObjectWriter()
        object.number("api_version", Double(apiVersion))
        object.bool("awaiting_train_now", awaitingTrainNow)
        if let child {
            var c = JSONObjectWriter()
            c.strings("argv", child.argv)
            c.optionalNumbers("counters", child.counters)
            c.number("elapsed_s", child.elapsedSeconds)
            if let executor = child.executor {
                var e = JSONObjectWriter()
                for key in executor.keys.sorted() { e.string(key, executor[key] ?? "") }
                c.raw("executor", e.finished())
            }
            c.number("pgid", Double(child.pgid))
            c.number("pid", Double(child.pid))
            if let progress = child.progress {
                var g = JSONObjectWriter()
                g.number("done", progress.done)
                g.optionalNumber("eta_s", progress.etaSeconds)
                g.optionalNumber("percent", progress.percent)
                g.optionalNumber("rate", progress.rate)
                g.optionalNumber("total", progress.total)
                c.raw("progress", g.finished())
            } else {
                c.null("progress")
            }
            c.optionalNumber("start_ticks", child.startTicks.map { Double($0) })
            c.string("started_at", child.startedAt)
            c.optionalString("status", child.status)
            c.number("timeout_s", child.timeoutSeconds)
            c.optionalNumbers("usage", child.usage)
            object.raw("child", c.finished())
        } else {
            object.null("child")
        }
        var j = JSONObjectWriter()
        j.optionalString("damage", journal.damage)
        j.string("head", journal.head)
        j.string("path", journal.path)
        j.number("seq", Double(journal.seq))
        object.raw("journal", j.finished())
        object.failure("last_error", lastError)
        object.failure("last_warning", lastWarning)
        object.string("mode", mode.rawValue)
        object.bool("pause_requested", pauseRequested)
        object.bool("paused", paused)
        object.number("pid", Double(pid))
        object.number("round", Double(round))
        object.number("rounds", Double(rounds))
        object.optionalString("run_id", runID)
        object.optionalString("stage", stage)
        object.string("started_at", startedAt)
        object.string("state", state.rawValue)
        object.bool("stopping", stopping)
        object.string("supervision", supervision)
        object.bool("train_now_pending", trainNowPending)
        object.string("updated_at", updatedAt)
        object.string("version", version)
        return object.finished()
    }
}

extension JSONObjectWriter {
    /// A `PipelineFailure` member (`last_error`, `last_warning`), or null.
    mutating func failure(_ name: String, _ failure: PipelineFailure?) {
        guard let failure else {
            null(name)
            return
        }
        var e = JSONObjectWriter()
        e.string("at", failure.at)
        e.optionalNumber("exit_code", failure.exitCode.map { Double($0) })
        e.string("message", failure.message)
        e.number("round", Double(failure.round))
        e.optionalNumber("signal", failure.signal.map { Double($0) })
        e.optionalString("stage", failure.stage)
        raw(name, e.finished())
    }
}

/// Writes one JSON object's members in the order given (callers give them sorted).
struct JSONObjectWriter {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var first = true

    init() { bytes.reserveCapacity(512) }

    private mutating func key(_ name: String) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        JSONText.appendString(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func string(_ name: String, _ value: String) {
        key(name)
        JSONText.appendString(value, to: &bytes)
    }

    mutating func optionalString(_ name: String, _ value: String?) {
        if let value { string(name, value) } else { null(name) }
    }

    mutating func number(_ name: String, _ value: Double) {
        key(name)
        JSONText.appendNumber(value.isFinite ? value : 0, to: &bytes)
    }

    mutating func optionalNumber(_ name: String, _ value: Double?) {
        if let value { number(name, value) } else { null(name) }
    }

    mutating func bool(_ name: String, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    mutating func null(_ name: String) {
        key(name)
        bytes.append(contentsOf: "null".utf8)
    }

    mutating func strings(_ name: String, _ values: [String]) {
        key(name)
        JSONText.appendStringArray(values, to: &bytes)
    }

    /// A member whose value is already-encoded JSON.
    mutating func optionalNumbers(_ name: String, _ values: [String: Double]?) {
        guard let values else { return null(name) }
        var bytes: [UInt8] = []
        JSONText.appendNumberMap(values, to: &bytes)
        raw(name, bytes)
    }

    mutating func raw(_ name: String, _ value: [UInt8]) {
        key(name)
        bytes += value
    }

    func finished() -> [UInt8] { bytes + [UInt8(ascii: "}")] }
}
