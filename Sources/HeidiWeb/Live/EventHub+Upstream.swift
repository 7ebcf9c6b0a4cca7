import HeidiCore

/// The hub's upstream side: one followed `GET /api/v1/events`, heidid's status change feed, and a follow of the
/// current stage's log, each reconnecting with backoff when heidid goes away (and resuming the journal by seq).
extension EventHub {
    /// Runs until the task is cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.followEvents() }
            group.addTask { await self.followStatus() }
            await group.waitForAll()
        }
    }

    func followEvents() async {
        var backoff: UInt64 = 200_000_000
        while !Task.isCancelled {
            if lastSeq == 0, let reply = try? await upstream.request("GET", "/api/v1/status", body: [], actor: nil),
                reply.status == 200,
                let seq = (try? StrictJSONParser.parse(reply.body))?["journal"]?["seq"]?.int64Value
            {
                setLastSeqIfUnset(UInt64(max(0, seq - Int64(ringCapacity))))
            }
            let after = lastSeq
            if let opened = try? await upstream.stream("/api/v1/events?after=\(after)&follow=1"), opened.status == 200 {
                setConnected(true)
                backoff = 200_000_000
                var splitter = LineSplitter()
                for await chunk in opened.chunks {
                    for line in splitter.feed(chunk) {
                        if let seq = JournalSeq.parse(line) { publish(.event(seq: seq, line: line)) }
                    }
                    // A chunk can hold hundreds of lines (heidid reads its files 256 KiB at a time when heidi-web is
                    // behind): let the clients' tasks take them before the next, instead of publishing chunk after
                    // chunk while every client's queue fills and all of them are dropped at once.
                    await Task.yield()
                }
                setConnected(false)
            }
            await LoopSleep.sleep(nanoseconds: backoff)
            backoff = min(backoff * 2, 5_000_000_000)
        }
    }
}
