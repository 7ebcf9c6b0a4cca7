import HeidiCore

/// The hub's status side: heidid's change feed (`GET /api/v1/status?watch=1`, one status object per published
/// change, the running stage's `STATUS=` line, counters and progress included, at most 4 a second) followed with one
/// connection, reconnecting with backoff when heidid goes away. heidi-web never polls heidid's status: while nothing
/// changes it sends heidid no request at all.
extension EventHub {
    func followStatus() async {
        var backoff: UInt64 = 200_000_000
        var logFollow: (key: String, task: Task<Void, Never>)?
        defer { logFollow?.task.cancel() }
        while !Task.isCancelled {
            if let opened = try? await upstream.stream("/api/v1/status?watch=1"), opened.status == 200 {
                backoff = 200_000_000
                var splitter = LineSplitter(maxLine: ControlSocketUpstream.maxBody)
                for await chunk in opened.chunks {
                    for line in splitter.feed(chunk) where !line.isEmpty {
                        guard let parsed = try? StrictJSONParser.parse(line) else { continue }
                        publish(.status(line))
                        if let (key, stage, round) = Self.logKey(parsed), logFollow?.key != key {
                            // The log tail follows the stage that runs now (or ran last).
                            logFollow?.task.cancel()
                            clearLogTail()
                            logFollow = (key, Task { await self.followLog(stage: stage, round: round) })
                        }
                    }
                }
            }
            await LoopSleep.sleep(nanoseconds: backoff)
            backoff = min(backoff * 2, 5_000_000_000)
        }
    }

    /// The run, round and stage whose log the tail shows, and a key that changes when any of them does.
    static func logKey(_ status: JSONValue) -> (key: String, stage: String, round: Int)? {
        guard let stage = status["stage"]?.stringValue, let round = status["round"]?.int64Value, round >= 1 else {
            return nil
        }
        return ("\(status["run_id"]?.stringValue ?? "")/\(round)/\(stage)", stage, Int(round))
    }

    func followLog(stage: String, round: Int) async {
        let target = "/api/v1/logs?stage=\(stage)&round=\(round)&follow=1&tail=\(logTailLines)"
        guard let opened = try? await upstream.stream(target), opened.status == 200 else { return }
        // heidid says where the tail starts; the page pages back from the first line it shows (`from_line`).
        var number = opened.headers.first { $0.0.lowercased() == "x-heidi-first-line" }.flatMap { Int($0.1) } ?? 0
        var splitter = LineSplitter(maxLine: 4096)
        for await chunk in opened.chunks {
            for line in splitter.feed(chunk) {
                publish(.log(stage: stage, round: round, number: number, line: line))
                number += 1
            }
        }
    }
}
