import HeidiAPI
import HeidiControl
import HeidiCore
import HeidiFuzzing
import HeidiTestSupport
import Logging
import ServiceLifecycle
import Testing

#if canImport(Glibc)
import Glibc
#endif

let root = PeerCredentials(pid: getpid(), uid: 0, gid: 0)
let stranger = PeerCredentials(pid: getpid(), uid: 4242, gid: 4242)

func body(_ response: ControlResponse) async -> String {
    switch response.body {
    case .bytes(let bytes): return String(decoding: bytes, as: UTF8.self)
    case .stream(let chunks):
        var all: [UInt8] = []
        for await chunk in chunks { all += chunk }
        return String(decoding: all, as: UTF8.self)
    }
}

@Suite("Control router")
struct ControlRouterTests {
    let backend = StaticBackend()
    var router: ControlRouter {
        ControlRouter(backend: backend, authorizer: Authorizer(daemonUID: 1000, groupName: nil))
    }

    @Test func statusHealthMetricsAndEvents() async {
        let status = await router.route(ControlRequest(method: "GET", uri: "/api/v1/status", body: [], peer: stranger))
        #expect(status.status == 200)
        let text = await body(status)
        #expect(
            text.contains("\"api_version\":1") && text.contains("\"child\":null")
                && text.contains("\"last_error\":null")
        )
        #expect(
            await router.route(ControlRequest(method: "GET", uri: "/api/v1/health", body: [], peer: stranger)).status
                == 200
        )
        let metrics = await router.route(ControlRequest(method: "GET", uri: "/metrics", body: [], peer: stranger))
        #expect(metrics.contentType.hasPrefix("text/plain"))
        let events = await router.route(
            ControlRequest(method: "GET", uri: "/api/v1/events?after=41", body: [], peer: stranger)
        )
        #expect(await body(events) == "{\"seq\":42}\n")
        #expect(events.contentType == "application/x-ndjson")
    }

    @Test func errorsCarryCodesAndStatuses() async {
        func check(
            _ method: String,
            _ uri: String,
            body requestBody: String = "",
            _ status: Int,
            _ code: String,
            peer: PeerCredentials = root
        ) async {
            let response = await router.route(
                ControlRequest(method: method, uri: uri, body: Array(requestBody.utf8), peer: peer)
            )
            #expect(response.status == status, "\(method) \(uri)")
            #expect(await body(response).contains("\"code\":\"\(code)\""), "\(method) \(uri)")
        }
        await check("GET", "/api/v1/nope", 404, "not_found")
        await check("DELETE", "/api/v1/status", 405, "method_not_allowed")
        await check("GET", "/api/v1/action/start", 405, "method_not_allowed")
        await check("POST", "/api/v1/action/explode", 404, "not_found")
        await check("GET", "/api/v1/action/explode", 404, "not_found")
        await check("POST", "/api/v1/action/start", body: "{\"rounds\":\"many\"}", 400, "bad_request")
        await check("POST", "/api/v1/action/start", body: "{\"rounds\":0}", 400, "bad_request")
        await check("POST", "/api/v1/action/start", body: "{\"mode\":\"sideways\"}", 400, "bad_request")
        await check("GET", "/api/v1/events?after=-1", 400, "bad_request")
        await check("GET", "/api/v1/logs?stage=deploy", 400, "bad_request")
        await check("GET", "/api/v1/logs?stage=train", 404, "not_found")
        await check("POST", "/api/v1/action/stop", 403, "forbidden", peer: stranger)
        #expect(await backend.actions.isEmpty, "nothing invalid or unauthorized reached the backend")
        await backend.setRefuse(true)
        await check("POST", "/api/v1/action/stop", 409, "invalid_state")
    }

    /// RFC 9110: a 405 lists the methods the path answers in `Allow` (found by the API fuzzer, `make api-test`); a path
    /// that names no action is not found, whatever the method.
    @Test func methodNotAllowedListsTheAllowedMethods() async {
        for (method, uri, allow) in [
            ("DELETE", "/api/v1/status", "GET, HEAD"), ("TRACE", "/metrics", "GET"),
            ("POST", "/api/v1/logs?stage=train", "GET"), ("GET", "/api/v1/action/train_now", "POST"),
        ] {
            let response = await router.route(ControlRequest(method: method, uri: uri, body: [], peer: root))
            #expect(response.status == 405, "\(method) \(uri)")
            #expect(
                response.headers.filter { $0.0 == "Allow" }.map(\.1) == [allow],
                "\(method) \(uri): \(response.headers)"
            )
        }
        let unknown = await router.route(ControlRequest(method: "GET", uri: "/api/v1/action/", body: [], peer: root))
        #expect(unknown.status == 404)
        #expect(!unknown.headers.contains { $0.0 == "Allow" })
    }

    @Test func actionsAreAcceptedWith202() async {
        let response = await router.route(
            ControlRequest(method: "POST", uri: "/api/v1/action/train_now", body: [], peer: root)
        )
        #expect(response.status == 202)
        let text = await body(response)
        #expect(text.contains("\"accepted\":true") && text.contains("\"outcome\":\"queued\""))
        let start = await router.route(
            ControlRequest(
                method: "POST",
                uri: "/api/v1/action/start",
                body: Array("{\"mode\":\"collect\",\"rounds\":2}".utf8),
                peer: root
            )
        )
        #expect(start.status == 202)
        #expect(await backend.actions == [.trainNow, .start])
    }

    @Test func authorization() {
        let authorizer = Authorizer(daemonUID: 1000, groupName: "root")  // group "root" (gid 0) exists everywhere
        #expect(authorizer.mayControl(PeerCredentials(pid: 1, uid: 0, gid: 0)))
        #expect(authorizer.mayControl(PeerCredentials(pid: 1, uid: 1000, gid: 1000)), "the daemon's own user")
        #expect(authorizer.mayControl(PeerCredentials(pid: 1, uid: 5000, gid: 0)), "primary group member")
        #expect(!authorizer.mayControl(PeerCredentials(pid: 999_999_999, uid: 5000, gid: 5000)))
        let refusal = authorizer.refusal(for: PeerCredentials(pid: 1, uid: 5000, gid: 5000))
        #expect(refusal.contains("control.group is 'root' (gid 0)") && refusal.contains("join it"), "\(refusal)")
    }

    /// A configured control group that does not exist is named as such, with the socket; it is not "no control
    /// group is configured", and nobody is told to join a group that is not the configured one.
    @Test func refusalNamesSocketAndMissingGroup() {
        let authorizer = Authorizer(
            daemonUID: 1000,
            groupName: "heidi-no-such-group-\(getpid())",
            socketPath: "/run/heidi/heidi.sock"
        )
        let stranger = PeerCredentials(pid: 1, uid: 5000, gid: 0)
        #expect(authorizer.groupID == nil && !authorizer.mayControl(stranger))
        let refusal = authorizer.refusal(for: stranger)
        #expect(refusal.contains("/run/heidi/heidi.sock"), "\(refusal)")
        #expect(
            refusal.contains(
                "control.group is 'heidi-no-such-group-\(getpid())', but no group 'heidi-no-such-group-\(getpid())' exists"
            ),
            "\(refusal)"
        )
        #expect(
            !refusal.contains("no control group is configured") && !refusal.contains("join group 'root'"),
            "\(refusal)"
        )
        let unconfigured = Authorizer(daemonUID: 1000, groupName: nil, socketPath: "/tmp/x.sock").refusal(for: stranger)
        #expect(
            unconfigured.contains("/tmp/x.sock") && unconfigured.contains("no control group is configured"),
            "\(unconfigured)"
        )
    }
}

@Suite("Control server over a Unix socket", .serialized)
struct ControlServerTests {
    /// Sends raw bytes and returns the raw answer (connection closed by either side); the blocking exchange runs
    /// off the cooperative pool.
    func exchange(_ path: String, _ request: [UInt8], timeout: Int = 5) async -> String {
        await Blocking.run { Self.exchangeBlocking(path, request, timeout: timeout) }
    }

    /// A stream socket connected to `path`, or nil.
    static func connected(_ path: String) -> Int32? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    static func exchangeBlocking(_ path: String, _ request: [UInt8], timeout: Int) -> String {
        guard let fd = connected(path) else { return "connect failed" }
        defer { close(fd) }
        var receiveTimeout = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, socklen_t(MemoryLayout<timeval>.size))
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            answer += buffer[0..<n]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    @Test func servesHTTPAndEnforcesLimits() async throws {
        let path = scratchSocketPath("serve")
        try await withTestControlServer(path: path, idleTimeout: 1.5) {
            var st = stat()
            #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o660, "socket mode 0660")

            let ok = await exchange(
                path,
                Array("GET /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
            )
            #expect(ok.hasPrefix("HTTP/1.1 200 OK") && ok.contains("\"api_version\":1"), "\(ok)")

            let big =
                "POST /api/v1/action/start HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n"
                + String(repeating: "a", count: 70000)
            #expect(await exchange(path, Array(big.utf8)).hasPrefix("HTTP/1.1 413"))

            // A declared body far over the limit is refused at its head, with the JSON error, without waiting for
            // the body (this client never sends it): before, the 1.5 s idle timeout closed it without an answer.
            let declared = await exchange(
                path,
                Array("POST /api/v1/action/start HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n".utf8)
            )
            #expect(declared.hasPrefix("HTTP/1.1 413"), "\(declared)")
            #expect(
                declared.contains("\"code\":\"too_large\"") && declared.contains("Content-Length 104857600"),
                "\(declared)"
            )
            // Without a declared length (chunked), as soon as the body passes the limit.
            let chunked =
                "POST /api/v1/action/start HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + String(70000, radix: 16) + "\r\n" + String(repeating: "a", count: 70000) + "\r\n"
            let grown = await exchange(path, Array(chunked.utf8))
            #expect(grown.hasPrefix("HTTP/1.1 413") && grown.contains("the body grew over"), "\(grown)")

            let garbage = await exchange(path, Array("NOT HTTP AT ALL\r\n\r\n".utf8))
            #expect(garbage.hasPrefix("HTTP/1.1 400") || garbage.isEmpty, "\(garbage)")

            // A client that sends half a request is disconnected after the idle timeout, and the server still answers others.
            let start = MonotonicClock.nanoseconds()
            let slow = await exchange(path, Array("GET /api/v1/status HTTP/1.1\r\nHo".utf8), timeout: 120)
            #expect(slow.isEmpty)
            // The server's 1.5 s idle timeout closes it, long before the client's own 120 s (generous: CI is loaded).
            #expect(
                Double(MonotonicClock.nanoseconds() - start) / 1e9 < 60,
                "closed by the idle timeout, not the client's"
            )
            #expect(
                await exchange(path, Array("GET /api/v1/health HTTP/1.1\r\nConnection: close\r\n\r\n".utf8)).contains(
                    "{\"ok\":true}"
                )
            )
        }
        #expect(!FileSystem.exists(path), "a socket the daemon bound itself is removed on shutdown")
    }

    @Test func refusesToStealALiveSocket() async throws {
        let path = "/tmp/heidi-ctl-live-\(getpid()).sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer {
            close(fd)
            unlink(path)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        listen(fd, 1)
        #expect(throws: ControlSocketError.inUse(path)) { try ListeningSocket.prepare(path) }
    }
}
