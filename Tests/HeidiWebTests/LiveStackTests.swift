import Foundation
import HeidiCore
import HeidiTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// heidi-web in front of a real heidid running the demo pipeline: relayed API, journalled actions with who and
/// from where, scalars for the curves, Server-Sent Events resumed by seq, WebSocket messages.
@Suite("heidi-web end to end", .serialized)
struct LiveStackTests {
    let operatorAuth = TestHTTP.basic("operator", LiveStack.password)

    @Test(
        "an action through heidi-web is journalled with who and from where; a viewer's action is 403 and changes nothing"
    )
    func actionsAndRoles() throws {
        let stack = try LiveStack(label: "web-actions")
        defer { stack.stopAll() }
        let http = stack.client()
        let viewer = try http.request(
            "POST",
            "/api/v1/action/start",
            headers: [TestHTTP.basic("viewer", "viewer-password-0123")]
        )
        #expect(viewer.status == 403)
        let crossOrigin = try http.request(
            "POST",
            "/api/v1/action/start",
            headers: [operatorAuth, ("Origin", "http://127.0.0.1:1")]
        )
        #expect(crossOrigin.status == 403)
        #expect(try http.request("GET", "/api/v1/status", headers: [operatorAuth]).body.contains("\"state\":\"IDLE\""))
        let started = try http.request("POST", "/api/v1/action/start", headers: [operatorAuth])
        #expect(started.status == 202, "\(started.body)")
        let journal = String(decoding: try FileSystem.read(stack.directory + "/state/events.jsonl"), as: UTF8.self)
        let start = journal.split(separator: "\n").first { $0.contains("\"event_type\":\"pipeline_start\"") } ?? ""
        #expect(start.contains("(by operator (basic) from 127.0.0.1 via heidi-web, relayed by uid "), "\(start)")
        try stack.waitForState("IDLE")
        // The demo's train stage reports X_HEIDI_SCALARS per step: the curve has one point per step.
        let runID = String(journal.split(separator: "\"run_id\":\"").dropFirst().first?.prefix { $0 != "\"" } ?? "")
        let scalars = try http.request("GET", "/api/v1/scalars?run_id=\(runID)", headers: [operatorAuth])
        #expect(scalars.status == 200)
        #expect(scalars.body.contains("\"stage\":\"train\""), "\(scalars.body)")
        #expect(scalars.body.components(separatedBy: "\"loss\":").count - 1 == 8, "\(scalars.body)")
        let runs = try http.request("GET", "/runs", headers: [operatorAuth])
        #expect(runs.body.contains(runID) && runs.body.contains("\"status\":\"complete\""), "\(runs.body)")
        #expect(try http.request("GET", "/status?run_id=nope", headers: [operatorAuth]).status == 404)
        let metrics = try http.request("GET", "/metrics", headers: [operatorAuth]).body
        #expect(metrics.contains("heidi_up 1") && metrics.contains("heidi_web_responses_total"))
    }

    @Test("SSE: id is the journal seq; Last-Event-ID resumes with no gap and no duplicate, across a heidi-web restart")
    func serverSentEventsResume() throws {
        let stack = try LiveStack(label: "web-sse")
        defer { stack.stopAll() }
        let http = stack.client()
        let first = try http.stream("/api/v1/stream", headers: [operatorAuth], timeout: 5) {
            TestHTTP.eventIDs($0).count >= 2 && $0.contains("event: status")
        }
        #expect(first.contains("text/event-stream"))
        #expect(first.contains("event: status"))
        var seen = TestHTTP.eventIDs(first)
        #expect(seen.first == 1)
        _ = try http.request("POST", "/api/v1/action/start", headers: [operatorAuth])
        // Read part of the run, then kill heidi-web while events flow, restart it and resume from the last id.
        let partial = try http.stream(
            "/api/v1/stream",
            headers: [operatorAuth, ("Last-Event-ID", String(seen.last ?? 0))],
            timeout: 10
        ) {
            TestHTTP.eventIDs($0).count >= 4
        }
        seen += TestHTTP.eventIDs(partial)
        WebProcess.stop(stack.web, signal: SIGKILL)
        try stack.startWeb()
        try stack.waitForState("IDLE")
        let head = try lastSeq(stack)
        let rest = try stack.client().stream(
            "/api/v1/stream",
            headers: [operatorAuth, ("Last-Event-ID", String(seen.last ?? 0))],
            timeout: 10
        ) {
            TestHTTP.eventIDs($0).last ?? 0 >= head
        }
        seen += TestHTTP.eventIDs(rest)
        #expect(seen == Array(1...head), "seen \(seen)")
    }

    @Test(
        "heidid killed and restarted mid-run: heidi-web follows the new daemon and a resuming client gets every seq once"
    )
    func daemonRestart() throws {
        let stack = try LiveStack(label: "web-daemon-restart")
        defer { stack.stopAll() }
        let http = stack.client()
        _ = try http.request("POST", "/api/v1/action/start", headers: [operatorAuth])
        let before = try http.stream("/api/v1/stream", headers: [operatorAuth], timeout: 15) {
            TestHTTP.eventIDs($0).count >= 6
        }
        var seen = TestHTTP.eventIDs(before)
        WebProcess.stop(stack.daemon, signal: SIGKILL)
        try stack.startDaemon()
        try stack.waitFor("heidi-web following the new heidid", timeout: 30) {
            try http.request("GET", "/health").body.contains("\"heidid\":true")
        }
        try stack.waitForState("IDLE", timeout: 90)
        let head = try lastSeq(stack)
        let rest = try http.stream(
            "/api/v1/stream",
            headers: [operatorAuth, ("Last-Event-ID", String(seen.last ?? 0))],
            timeout: 15
        ) {
            TestHTTP.eventIDs($0).last ?? 0 >= head
        }
        seen += TestHTTP.eventIDs(rest)
        #expect(seen == Array(1...head), "seen \(seen)")
        let journal = String(decoding: try FileSystem.read(stack.directory + "/state/events.jsonl"), as: UTF8.self)
        #expect(
            journal.contains("\"event_type\":\"daemon_start\"")
                && journal.components(separatedBy: "daemon_start").count == 3
        )
    }

    @Test("SSE ?after= beyond what the hub keeps is read from heidid; WebSocket sends state_update and events by seq")
    func webSocketAndAfter() throws {
        let stack = try LiveStack(label: "web-ws")
        defer { stack.stopAll() }
        let http = stack.client()
        let sse = try http.stream("/api/v1/stream?after=1", headers: [operatorAuth], timeout: 5) {
            TestHTTP.eventIDs($0).count >= 1
        }
        #expect(TestHTTP.eventIDs(sse).first == 2)
        let fd = try http.connect(timeout: 1)
        defer { close(fd) }
        http.send(
            fd,
            "GET",
            "/api/v1/ws?after=1",
            headers: [
                operatorAuth, ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13"),
            ],
            body: ""
        )
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = MonotonicClock.nanoseconds() + 5_000_000_000
        while MonotonicClock.nanoseconds() < deadline {
            let n = read(fd, &buffer, buffer.count)
            if n > 0 { data += buffer[0..<n] }
            let text = String(decoding: data, as: UTF8.self)
            if text.contains("\"type\":\"state_update\"") && text.contains("\"type\":\"event\",\"seq\":2") { break }
        }
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 101"), "\(text.prefix(300))")
        #expect(text.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
        #expect(text.contains("\"type\":\"state_update\",\"state\":\"IDLE\""))
        #expect(text.contains("\"type\":\"event\",\"seq\":2,\"event\":{\"event_version\":\"2\",\"seq\":2,"))
        #expect(!text.contains("\"seq\":1,\"event\""))
        // A cross-origin handshake (a page elsewhere riding on the user's credentials) is not upgraded.
        let foreign = try http.request(
            "GET",
            "/api/v1/ws",
            headers: [
                operatorAuth, ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Origin", "http://evil.example"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13"),
            ]
        )
        #expect(foreign.status != 101)
    }

    @Test("WebSocket ?after= resumes across a heidi-web restart and across a heidid restart: every seq exactly once")
    func webSocketResume() throws {
        let stack = try LiveStack(label: "web-ws-resume")
        defer { stack.stopAll() }
        _ = try stack.client().request("POST", "/api/v1/action/start", headers: [operatorAuth])
        var client = TestWebSocket(stack.client(), headers: [operatorAuth])
        client.read(through: 4, timeout: 15)
        // heidi-web killed while events flow; the client reconnects to the new one with the last seq it saw.
        WebProcess.stop(stack.web, signal: SIGKILL)
        try stack.startWeb()
        try stack.waitForState("IDLE")
        var head = try lastSeq(stack)
        client = TestWebSocket(stack.client(), headers: [operatorAuth], seqs: client.seqs)
        client.read(through: head, timeout: 15)
        #expect(client.seqs == Array(1...head), "seen \(client.seqs)")
        // A second run; heidid killed and restarted mid-run; the client resumes from heidi-web by seq.
        _ = try stack.client().request("POST", "/api/v1/action/start", headers: [operatorAuth])
        client.read(through: head + 4, timeout: 15)
        WebProcess.stop(stack.daemon, signal: SIGKILL)
        try stack.startDaemon()
        try stack.waitFor("heidi-web following the new heidid", timeout: 30) {
            try stack.client().request("GET", "/health").body.contains("\"heidid\":true")
        }
        try stack.waitForState("IDLE", timeout: 90)
        head = try lastSeq(stack)
        client.read(through: head, timeout: 20)
        #expect(client.seqs == Array(1...head), "seen \(client.seqs)")
        #expect(client.connections >= 2)
    }

    @Test(
        "heidi-web follows heidid's status change feed: no request to heidid while nothing changes; reconnects when heidid restarts"
    )
    func statusFeed() throws {
        let stack = try LiveStack(label: "web-status-feed")
        defer { stack.stopAll() }
        let http = stack.client()
        // A run held before its first stage is active but nothing changes (a poller would ask every second).
        let started = try http.request(
            "POST",
            "/api/v1/action/start",
            headers: [operatorAuth],
            body: "{\"paused\":true}"
        )
        #expect(started.status == 202, "\(started.body)")
        _ = try http.stream("/api/v1/stream", headers: [operatorAuth], timeout: 10) { $0.contains("\"paused\":true") }
        let before = try heididRequests(http)
        usleep(3_500_000)
        // The first /metrics request is counted once it has been answered; nothing else reached heidid.
        let answered = try heididRequests(http) - before
        #expect(answered == 1, "heidid answered \(answered) requests in 3.5 s of nothing changing")
        // The feed ends with heidid; heidi-web reconnects and the page gets the new daemon's status.
        WebProcess.stop(stack.daemon, signal: SIGKILL)
        try stack.startDaemon()
        let pid = stack.daemon
        let after = try http.stream("/api/v1/stream", headers: [operatorAuth], timeout: 20) {
            $0.contains("\"pid\":\(pid),")
        }
        #expect(after.contains("\"pid\":\(pid),"))
    }

    @Test(
        "a stage's STATUS= lines reach the page within a second through heidid's change feed: heidi-web polls nothing"
    )
    func statusLinesWithoutPolling() throws {
        // The demo's train stage sends a STATUS= line per step (about 0.15 s each): 60 steps take about 9 s.
        let stack = try LiveStack(label: "web-status-lines", trainSteps: 60)
        defer { stack.stopAll() }
        let http = stack.client()
        let started = try http.request("POST", "/api/v1/action/start", headers: [operatorAuth], body: "{}")
        #expect(started.status == 202, "\(started.body)")
        let training = try http.stream("/api/v1/stream?after=999999999", headers: [operatorAuth], timeout: 120) {
            $0.contains("\"status\":\"step ")
        }
        #expect(training.contains("\"status\":\"step "), "the train stage's STATUS= line reached the page")
        let before = try heididRequests(http)
        // Resuming after the hub's last seq: no backlog to ask heidid for.
        let window = try http.stream("/api/v1/stream?after=999999999", headers: [operatorAuth], timeout: 3) { _ in false
        }
        let answered = try heididRequests(http) - before
        let lines = Set(
            window.components(separatedBy: "\"status\":\"step ").dropFirst().map { $0.prefix { $0 != "\"" } }
        )
        // The /metrics request above is counted once answered; nothing else reached heidid (a poller asks every second).
        #expect(answered == 1, "heidid answered \(answered) requests in 3 s of a stage reporting STATUS=")
        // About 20 steps in 3 s, at most 4 documents a second: one poll a second would show at most 4.
        #expect(lines.count >= 6, "distinct STATUS= lines in 3 s: \(lines.sorted())")
    }

    @Test("an idle heidi-web with a page open sleeps: not one wake-up in 5 s with no keep-alive due")
    func idleSleeps() throws {
        let stack = try LiveStack(label: "web-idle")
        defer { stack.stopAll() }
        let http = stack.client()
        let page = DispatchSemaphore(value: 0)
        // A page open for 8 s: its keep-alive comes at 15 s, so none falls in the window counted below.
        DispatchQueue.global().async {
            _ = try? http.stream("/api/v1/stream", headers: [self.operatorAuth], timeout: 8) { _ in false }
            page.signal()
        }
        usleep(2_000_000)  // connected, sent its first items, settled
        let before = wakeUps(stack.web)
        usleep(5_000_000)
        let after = wakeUps(stack.web)
        page.wait()
        let woke = after.filter { before[$0.key] != nil }.map {
            ($0.value.name, $0.value.count - (before[$0.key]?.count ?? 0))
        }
        let total = woke.reduce(0) { $0 + $1.1 }
        // Nothing is due in the window: heidid sends nothing while no run moves, and the keep-alive is 15 s away.
        // heidi-web's tasks run on NIO's event loops (HeidiWebMain), which sleep in epoll_wait until then. With
        // Swift's default executor, libdispatch's worker-pool monitor woke its manager thread once a second (5 here);
        // a poll once a second would add at least 2 a second on NIO's threads.
        #expect(total == 0, "heidi-web woke \(total) times in 5 s idle: \(woke.filter { $0.1 > 0 })")
    }

    /// Voluntary context switches (one per sleep after a wake-up) of each of `pid`'s threads, by thread id.
    func wakeUps(_ pid: pid_t) -> [String: (name: String, count: Int)] {
        var threads: [String: (name: String, count: Int)] = [:]
        for task in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? [] {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8) else {
                continue
            }
            let fields = status.split(separator: "\n").map {
                $0.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            }
            let name = fields.first { $0.first == "Name" }?.last ?? "?"
            let count = Int(fields.first { $0.first == "voluntary_ctxt_switches" }?.last ?? "") ?? 0
            threads[task] = (name, count)
        }
        return threads
    }

    /// Requests heidid has answered (its control request histogram, relayed by heidi-web's /metrics).
    func heididRequests(_ http: TestHTTP) throws -> Int {
        let metrics = try http.request("GET", "/metrics", headers: [operatorAuth]).body
        let line =
            metrics.split(separator: "\n").first { $0.hasPrefix("heidi_control_request_duration_seconds_count ") } ?? ""
        return Int(line.split(separator: " ").last ?? "") ?? -1000
    }

    func lastSeq(_ stack: LiveStack) throws -> UInt64 {
        let journal = String(decoding: try FileSystem.read(stack.directory + "/state/events.jsonl"), as: UTF8.self)
        let last = journal.split(separator: "\n").last ?? ""
        return UInt64(last.split(separator: "\"seq\":").dropFirst().first?.prefix { $0.isNumber } ?? "") ?? 0
    }
}
