import HeidiCore

/// The original engine's `GET /runs` and `GET /status?run_id=`, answered from heidid's journal: one summary per run.
public struct RunSummary: Sendable, Equatable, Encodable {
    public var runID: String
    public var startedAt: String
    public var lastEventAt: String
    public var lastEvent: String
    public var round: Int
    /// `running`, `complete`, `error`, `stopped`.
    public var status: String
    public var health: String
    public var errors: Int

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case startedAt = "started_at"
        case lastEventAt = "last_event_ts"
        case lastEvent = "last_event"
        case round, status,
            health, errors
    }

    /// Summaries of every run in `journal` (NDJSON lines), newest first.
    public static func index(_ journal: [UInt8]) -> [RunSummary] {
        var runs: [String: RunSummary] = [:]
        var order: [String] = []
        var splitter = LineSplitter()
        for line in splitter.feed(journal) {
            guard let event = try? StrictJSONParser.parse(line), let runID = event["run_id"]?.stringValue,
                let type = event["event_type"]?.stringValue, let ts = event["ts"]?.stringValue
            else { continue }
            var run =
                runs[runID]
                ?? {
                    order.append(runID)
                    return RunSummary(
                        runID: runID,
                        startedAt: ts,
                        lastEventAt: ts,
                        lastEvent: type,
                        round: 0,
                        status: "running",
                        health: "ok",
                        errors: 0
                    )
                }()
            run.lastEventAt = ts
            run.lastEvent = type
            run.round = max(run.round, Int(event["round"]?.int64Value ?? 0))
            switch type {
            case "pipeline_complete": run.status = "complete"
            case "pipeline_error": run.status = "error"
            case "pipeline_stop", "reset": run.status = "stopped"
            default: break
            }
            if event["level"]?.stringValue == "error" || event["level"]?.stringValue == "critical" { run.errors += 1 }
            run.health = run.status == "error" ? "degraded" : "ok"
            runs[runID] = run
        }
        return order.reversed().compactMap { runs[$0] }
    }
}

extension WebRouter {
    func journal() async -> [UInt8]? {
        guard let reply = try? await upstream.request("GET", "/api/v1/events?after=0", body: [], actor: nil),
            reply.status == 200
        else {
            return nil
        }
        return reply.body
    }

    func runs() async -> WebResponse {
        guard let journal = await journal() else { return .error(502, "unavailable", "heidid did not answer") }
        return .json(200, RunSummary.index(journal))
    }

    func runStatus(_ runID: String?) async -> WebResponse {
        guard let runID, !runID.isEmpty else {
            return await relay(WebRequest(method: "GET", uri: "/api/v1/status"))
        }
        guard let journal = await journal() else { return .error(502, "unavailable", "heidid did not answer") }
        guard let run = RunSummary.index(journal).first(where: { $0.runID == runID }) else {
            return .error(404, "not_found", "run not found: \(runID)")
        }
        return .json(200, run)
    }
}
