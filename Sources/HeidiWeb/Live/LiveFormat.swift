import HeidiCore

/// How hub items look on the wire: Server-Sent Events for the page, JSON messages for WebSocket programs.
public enum LiveFormat {
    /// `id: <seq>` on journal events only, so a reconnecting browser's `Last-Event-ID` is the last seq it saw.
    public static func sse(_ item: HubItem) -> [UInt8] {
        switch item {
        case .event(let seq, let line):
            return Array("id: \(seq)\nevent: journal\ndata: ".utf8) + line + Array("\n\n".utf8)
        case .status(let status):
            return Array("event: status\ndata: ".utf8) + status + Array("\n\n".utf8)
        case .log(let stage, let round, let number, let line):
            return Array("event: log\ndata: ".utf8) + logJSON(stage, round, number, line) + Array("\n\n".utf8)
        }
    }

    /// `{"type":"event","seq":N,"event":{…}}`, `{"type":"state_update","state":"…","status":{…}}` (the original
    /// engine's consumers listened for `state_update`), `{"type":"log",…}`.
    public static func webSocket(_ item: HubItem) -> [UInt8] {
        switch item {
        case .event(let seq, let line):
            return Array("{\"type\":\"event\",\"seq\":\(seq),\"event\":".utf8) + line + [UInt8(ascii: "}")]
        case .status(let status):
            let state = (try? StrictJSONParser.parse(status))?["state"]?.stringValue ?? ""
            return Array("{\"type\":\"state_update\",\"state\":\(JSONText.quoted(state)),\"status\":".utf8) + status + [
                UInt8(ascii: "}")
            ]
        case .log(let stage, let round, let number, let line):
            return Array("{\"type\":\"log\",".utf8) + logJSON(stage, round, number, line).dropFirst()
        }
    }

    /// `{"stage":"train","round":1,"n":41,"line":"…"}`: `n` is the line's number in the log (0-based, as in
    /// `from_line`), the line a JSON string (the page shows it as text).
    static func logJSON(_ stage: String, _ round: Int, _ number: Int, _ line: [UInt8]) -> [UInt8] {
        var out = Array("{\"stage\":".utf8)
        JSONText.appendString(stage, to: &out)
        out += Array(",\"round\":\(round),\"n\":\(number),\"line\":".utf8)
        JSONText.appendString(String(decoding: line, as: UTF8.self), to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The seq a client resumes after: `Last-Event-ID` (SSE reconnects), else `?after=`, else 0 (the whole journal
    /// the hub or heidid still has).
    public static func resumeSeq(_ request: WebRequest) -> UInt64? {
        if let header = request.header("last-event-id"), !header.isEmpty {
            return UInt64(header.trimmingCharacters(in: " "))
        }
        if let after = request.query["after"] { return UInt64(after) }
        return 0
    }
}

extension WebRouter {
    /// `GET /api/v1/stream`: the hub's items as Server-Sent Events, with a keep-alive comment every `keepAlive`
    /// seconds. The stream ends when the hub drops the client; the browser reconnects with `Last-Event-ID`.
    func serverSentEvents(_ request: WebRequest) -> WebResponse {
        guard let after = LiveFormat.resumeSeq(request) else {
            return .error(400, "bad_request", "Last-Event-ID / after must be a journal seq")
        }
        let items = hub.subscribe(after: after)
        let (out, continuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingOldest(64))
        let interval = keepAlive
        let pump = Task {
            _ = continuation.yield(Array("retry: 1000\n: heidi-web\n\n".utf8))
            // Waits while the socket is behind (a tail of 200 log lines arrives at once): the client's bounded
            // queue is the hub's, which drops a client that stays behind. Ending the response here instead had
            // dropped every client that was sent a burst larger than this buffer, over and over on each reconnect.
            items: for await item in items {
                let bytes = LiveFormat.sse(item)
                while case .dropped = continuation.yield(bytes) {
                    await LoopSleep.sleep(nanoseconds: 5_000_000)
                    if Task.isCancelled { break items }
                }
            }
            continuation.finish()
        }
        let ticker = Task {
            while !Task.isCancelled {
                await LoopSleep.sleep(nanoseconds: interval * 1_000_000_000)
                if Task.isCancelled { break }
                _ = continuation.yield(Array(": keep-alive\n\n".utf8))
            }
        }
        continuation.onTermination = { _ in
            pump.cancel()
            ticker.cancel()
        }
        return WebResponse(
            status: 200,
            headers: [("Content-Type", "text/event-stream"), ("X-Accel-Buffering", "no")],
            body: .stream(out)
        )
    }
}
