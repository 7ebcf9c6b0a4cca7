import HeidiCore
import Testing

@testable import HeidiWeb

/// The router over a fake heidid: answers are well-formed JSON with the security headers, logins set the cookie.
@Suite("heidi-web router")
struct WebRouterTests {
    static let password = "correct-horse-battery-staple"
    let clock = ManualClock()

    func router() -> WebRouter {
        let settings = WebSettings(socketPath: "/s", operatorPassword: Self.password)
        let policy = RequestPolicy(
            settings: settings,
            sessions: SessionStore(clock: clock.read),
            limiter: LoginLimiter(clock: clock.read)
        )
        let upstream = FakeUpstream()
        return WebRouter(policy: policy, upstream: upstream, hub: EventHub(upstream: upstream))
    }

    func request(_ method: String, _ uri: String, _ headers: [(String, String)] = [], body: String = "") -> WebRequest {
        WebRequest(method: method, uri: uri, headers: [("Host", "127.0.0.1:7779")] + headers, body: Array(body.utf8))
    }

    @Test("errors are heidid's JSON error shape (not an array of bytes), with CSP, nosniff and frame-ancestors")
    func errorShape() async throws {
        let answer = await router().handle(
            request("POST", "/api/v1/login", body: "{\"password\":\"wrong-password-1234567\"}")
        )
        #expect(answer.status == 401)
        #expect(
            String(decoding: answer.bodyBytes, as: UTF8.self)
                == "{\"error\":{\"code\":\"unauthorized\",\"message\":\"wrong password\"}}\n"
        )
        #expect(answer.header("Content-Security-Policy")?.contains("frame-ancestors 'none'") == true)
        #expect(answer.header("Content-Security-Policy")?.contains("script-src 'self'") == true)
        #expect(answer.header("X-Content-Type-Options") == "nosniff")
        let health = await router().handle(request("GET", "/health"))
        #expect(String(decoding: health.bodyBytes, as: UTF8.self).hasPrefix("{\"ok\":true"))
    }

    @Test(
        "login: the session and CSRF token in JSON, the cookie in Set-Cookie; /api/v1/session answers with the cookie"
    )
    func login() async throws {
        let router = router()
        let answer = await router.handle(
            request("POST", "/api/v1/login", body: "{\"user\":\"operator\",\"password\":\"\(Self.password)\"}")
        )
        #expect(answer.status == 200)
        let body = try StrictJSONParser.parse(answer.bodyBytes)
        #expect(body["role"]?.stringValue == "operator")
        let csrf = try #require(body["csrf"]?.stringValue)
        let cookie = try #require(answer.header("Set-Cookie"))
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
        let id = String(cookie.split(separator: ";")[0])
        let session = await router.handle(request("GET", "/api/v1/session", [("Cookie", id)]))
        #expect(try StrictJSONParser.parse(session.bodyBytes)["csrf"]?.stringValue == csrf)
        let loggedOut = await router.handle(
            request("POST", "/api/v1/logout", [("Cookie", id), ("X-CSRF-Token", csrf)])
        )
        #expect(loggedOut.header("Set-Cookie")?.contains("Max-Age=0") == true)
        #expect(await router.handle(request("GET", "/api/v1/session", [("Cookie", id)])).status == 401)
    }

    @Test("no GET changes state: an action by GET is not relayed (405, Allow: POST), only POST")
    func noGetActions() async {
        let answer = await router().handle(
            request(
                "GET",
                "/api/v1/action/stop",
                [("Authorization", "Basic " + RequestPolicyTests.base64(Array("operator:\(Self.password)".utf8)))]
            )
        )
        #expect(answer.status == 405)
        #expect(answer.header("Allow") == "POST")
    }

    @Test("an SSE client is sent a burst larger than its socket buffer whole (the 200-line log tail), not ended")
    func serverSentEventsBurst() async throws {
        let router = router()
        for number in 0..<300 {
            router.hub.publish(.log(stage: "train", round: 1, number: number, line: Array("filler\(number)".utf8)))
        }
        let stream = await router.handle(request("GET", "/api/v1/stream", [TestHTTP.basic("operator", Self.password)]))
        #expect(stream.status == 200)
        guard case .stream(let chunks) = stream.body else {
            Issue.record("not a stream")
            return
        }
        var text = ""
        for await chunk in chunks {
            try await Task.sleep(nanoseconds: 1_000_000)  // a reader slower than the burst
            text += String(decoding: chunk, as: UTF8.self)
            if text.contains("filler299\"") { break }
        }
        #expect(text.contains("\"n\":100,\"line\":\"filler100\"") && text.contains("\"n\":299,\"line\":\"filler299\""))
        #expect(text.components(separatedBy: "event: log").count - 1 == 200)
    }
}
