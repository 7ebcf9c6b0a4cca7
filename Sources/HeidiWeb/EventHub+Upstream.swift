import HeidiCore

/// The hub's upstream side: one followed `GET /api/v1/events`, a status refresher, and a follow of the current
/// stage's log, each reconnecting with backoff when heidid goes away (and resuming the journal by seq).
extension EventHub {
    /// Runs until the task is cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.followEvents() }
            group.addTask { await self.refreshStatus() }
            await group.waitForAll()
        }
    }

    func followEvents() async {
        var backoff: UInt64 = 200_000_000
        while !Task.isCancelled {
            if lastSeq == 0, let reply = try? await upstream.request("GET", "/api/v1/status", body: [], actor: nil), reply.status == 200,
               let seq = (try? StrictJSONParser.parse(reply.body))?["journal"]?["seq"]?.int64Value {
                setLastSeqIfUnset(UInt64(max(0, seq - Int64(ringCapacity))))
            }
            let after = lastSeq
            if let opened = try? await upstream.stream("/api/v1/events?after=\(after)&follow=1"), opened.status == 200 {
                setConnected(true)
                backoff = 200_000_000
                statusMayHaveChanged()
                var splitter = LineSplitter()
                for await chunk in opened.chunks {
                    for line in splitter.feed(chunk) {
                        if let seq = JournalSeq.parse(line) { publish(.event(seq: seq, line: line)) }
                    }
                    statusMayHaveChanged()
                }
                setConnected(false)
            }
            try? await Task.sleep(nanoseconds: backoff)
            backoff = min(backoff * 2, 5_000_000_000)
        }
    }

    /// Fetches the status after events (and once more 100 ms later: heidid publishes its status at the end of the
    /// step that wrote the event, which may be after the event reached us), and once a second while a run is
    /// active (a child's STATUS line changes without a journal event); not at all while idle.
    func refreshStatus() async {
        var logFollow: (key: String, task: Task<Void, Never>)?
        defer { logFollow?.task.cancel() }
        var active = false
        var recheck = false
        while !Task.isCancelled {
            if recheck {
                try? await Task.sleep(nanoseconds: 100_000_000)
                recheck = false
            } else {
                await wake.wait(timeout: active ? 1_000_000_000 : nil)
                recheck = true
            }
            guard let reply = try? await upstream.request("GET", "/api/v1/status", body: [], actor: nil), reply.status == 200 else {
                active = false
                continue
            }
            var body = reply.body
            while body.last == 0x0a { body.removeLast() }
            publish(.status(body))
            let parsed = try? StrictJSONParser.parse(body)
            let phase = parsed?["state"]?.stringValue ?? "IDLE"
            active = phase != "IDLE" && phase != "ERROR"
            // The log tail follows the stage that runs now (or ran last).
            if let stage = parsed?["stage"]?.stringValue, let round = parsed?["round"]?.int64Value, round >= 1 {
                let key = "\(parsed?["run_id"]?.stringValue ?? "")/\(round)/\(stage)"
                if logFollow?.key != key {
                    logFollow?.task.cancel()
                    clearLogTail()
                    logFollow = (key, Task { await self.followLog(stage: stage, round: Int(round)) })
                }
            }
        }
    }

    func followLog(stage: String, round: Int) async {
        let target = "/api/v1/logs?stage=\(stage)&round=\(round)&follow=1&tail=\(logTailLines)"
        guard let opened = try? await upstream.stream(target), opened.status == 200 else { return }
        var splitter = LineSplitter(maxLine: 4096)
        for await chunk in opened.chunks {
            for line in splitter.feed(chunk) { publish(.log(stage: stage, round: round, line: line)) }
        }
    }
}
