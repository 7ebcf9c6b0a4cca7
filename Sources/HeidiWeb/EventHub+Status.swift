import HeidiCore
import NIOConcurrencyHelpers

/// The hub's status side: heidid's change feed (`GET /api/v1/status?watch=1`, one status object per published
/// change) followed with one connection, reconnecting with backoff when heidid goes away. While nothing changes
/// heidi-web sends heidid no request at all. The feed leaves out what moves on its own (the child's clock, its
/// `STATUS=` line and counters); while the running stage reports those on its progress channel, its status is
/// fetched once a second so the page shows them.
extension EventHub {
    static let progressInterval: UInt64 = 1_000_000_000

    func followStatus() async {
        var backoff: UInt64 = 200_000_000
        var logFollow: (key: String, task: Task<Void, Never>)?
        var progress: Task<Void, Never>?
        defer {
            logFollow?.task.cancel()
            progress?.cancel()
        }
        let fed = NIOLockedValueBox<StatusKey?>(nil)
        while !Task.isCancelled {
            if let opened = try? await upstream.stream("/api/v1/status?watch=1"), opened.status == 200 {
                backoff = 200_000_000
                var splitter = LineSplitter(maxLine: ControlSocketUpstream.maxBody)
                for await chunk in opened.chunks {
                    for line in splitter.feed(chunk) where !line.isEmpty {
                        guard let parsed = try? StrictJSONParser.parse(line) else { continue }
                        fed.withLockedValue { $0 = StatusKey(parsed) }
                        publish(.status(line))
                        if let (key, stage, round) = Self.logKey(parsed), logFollow?.key != key {
                            // The log tail follows the stage that runs now (or ran last).
                            logFollow?.task.cancel()
                            clearLogTail()
                            logFollow = (key, Task { await self.followLog(stage: stage, round: round) })
                        }
                        let reports = parsed["child"].map { $0["status"].isPresent || $0["counters"].isPresent } ?? false
                        if reports, progress == nil {
                            progress = Task { await self.pollProgress(fed: fed) }
                        } else if !reports {
                            progress?.cancel()
                            progress = nil
                        }
                    }
                }
            }
            progress?.cancel()
            progress = nil
            try? await Task.sleep(nanoseconds: backoff)
            backoff = min(backoff * 2, 5_000_000_000)
        }
    }

    /// The run, round and stage whose log the tail shows, and a key that changes when any of them does.
    static func logKey(_ status: JSONValue) -> (key: String, stage: String, round: Int)? {
        guard let stage = status["stage"]?.stringValue, let round = status["round"]?.int64Value, round >= 1 else { return nil }
        return ("\(status["run_id"]?.stringValue ?? "")/\(round)/\(stage)", stage, Int(round))
    }

    /// Fetches the status once a second for the child's progress; a reply is published only when it shows the same
    /// change as the feed's last document (one the feed has already passed is never shown over a newer one).
    func pollProgress(fed: NIOLockedValueBox<StatusKey?>) async {
        while !Task.isCancelled {
            try? await Task.sleep(nanoseconds: Self.progressInterval)
            guard !Task.isCancelled,
                  let reply = try? await upstream.request("GET", "/api/v1/status", body: [], actor: nil), reply.status == 200 else { continue }
            var body = reply.body
            while body.last == 0x0a { body.removeLast() }
            guard let parsed = try? StrictJSONParser.parse(body), let key = StatusKey(parsed),
                  fed.withLockedValue({ $0 == key }), !Task.isCancelled else { continue }
            publish(.status(body))
        }
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

/// A status object without what moves on its own, like heidid's `StatusSnapshot.watchKey` on the JSON: two
/// statuses with equal keys show the same change.
struct StatusKey: Equatable, Sendable {
    static let moving: Set<String> = ["elapsed_s", "status", "counters", "usage"]
    let value: JSONValue

    init?(_ status: JSONValue) {
        guard case .object(let fields) = status else { return nil }
        value = .object(fields.compactMap { field in
            switch (field.key, field.value) {
            case ("updated_at", _): return nil
            case ("child", .object(let child)): return (field.key, .object(child.filter { !Self.moving.contains($0.key) }))
            default: return field
            }
        })
    }
}

extension Optional where Wrapped == JSONValue {
    /// True for a key that is there and not null.
    var isPresent: Bool {
        switch self {
        case .none, .some(.null): false
        default: true
        }
    }
}
