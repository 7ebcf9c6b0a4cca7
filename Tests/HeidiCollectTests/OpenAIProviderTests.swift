import HeidiCore
import Testing

@testable import HeidiCollect

#if canImport(Glibc)
import Glibc
#endif

/// The openai provider against a local OpenAI-compatible server (Support/OpenAITestServer.swift).
@Suite("OpenAI-compatible provider")
struct OpenAIProviderTests {
    static let key = "sk-testkey-\(UInt64.random(in: 1...UInt64.max))abcdefghijklmnop"

    func provider(
        _ server: OpenAITestServer,
        key: String? = OpenAIProviderTests.key,
        concurrency: Int = 4
    ) -> OpenAIProvider {
        OpenAIProvider(
            endpoint: .init(
                baseURL: server.baseURL + "/",
                apiKey: key.map { APIKey(value: $0, source: "test") },
                maxConnections: concurrency
            )
        )
    }

    @Test func answersUsageAndAuthorization() async throws {
        let server = try await OpenAITestServer.start { n, _ in
            .completion(content: "answer \(n)\n```python\nx = \(n)\n```", promptTokens: 10, completionTokens: 20)
        }
        let harness = try JobHarness()
        let (report, _) = await harness.run(
            Fixtures.tasks(12),
            settings: .test(concurrency: 4),
            provider: provider(server)
        )
        await server.stop()
        #expect(report.exitCode == 0)
        let totals = report.result.totals
        #expect(totals.requestsSent == 12)
        #expect(totals.inputTokens == 120)
        #expect(totals.outputTokens == 240)
        let requests = server.requests
        #expect(requests.count == 12)
        #expect(requests.allSatisfy { $0.path == "/v1/chat/completions" })
        #expect(requests.allSatisfy { $0.authorization == "Bearer \(Self.key)" })
        let body = try StrictJSONParser.parse(Array(try #require(requests.first).body.utf8))
        #expect(body["model"]?.stringValue == "test-model")
        let records = try Fixtures.records(harness.output)
        #expect(records.count == 12)
        #expect(records.allSatisfy { $0["output"]?.stringValue?.hasPrefix("answer ") == true })
        #expect(records.allSatisfy { $0["metadata"]?["provider"]?.stringValue == "openai" })
    }

    @Test func noKeyMeansNoAuthorizationHeader() async throws {
        let server = try await OpenAITestServer.start(always: .completion(content: "ok"))
        let harness = try JobHarness()
        let (report, _) = await harness.run(Fixtures.tasks(2), settings: .test(), provider: provider(server, key: nil))
        await server.stop()
        #expect(report.exitCode == 0)
        #expect(server.requests.allSatisfy { $0.authorization == nil })
    }

    @Test func rateLimitsHonourRetryAfterAndAreCounted() async throws {
        let server = try await OpenAITestServer.start { n, _ in
            n == 1 ? .rateLimited(retryAfter: "1") : .completion(content: "ok")
        }
        let harness = try JobHarness()
        let (report, _) = await harness.run(
            Fixtures.tasks(1),
            settings: .test(concurrency: 1, retries: 3),
            provider: provider(server)
        )
        await server.stop()
        let totals = report.result.totals
        #expect(report.exitCode == 0)
        #expect(totals.rateLimitsHit == 1)
        #expect(totals.retries == 1)
        #expect(totals.requestsSent == 2)
        let requests = server.requests
        #expect(requests.count == 2)
        // A lower bound only: the retry may not come before the server's Retry-After (1 s); it can come later.
        if requests.count == 2 { #expect(requests[1].arrival - requests[0].arrival >= .milliseconds(950)) }
    }

    @Test func serverErrorsAreRetried() async throws {
        let server = try await OpenAITestServer.start { n, _ in n % 3 != 0 ? .serverError : .completion(content: "ok") }
        let harness = try JobHarness()
        // Requests 1, 2 fail, 3 succeeds, 4, 5 fail, 6 succeeds... with one request in flight at a time.
        let (report, _) = await harness.run(
            Fixtures.tasks(3),
            settings: .test(concurrency: 1, retries: 2),
            provider: provider(server)
        )
        await server.stop()
        let totals = report.result.totals
        #expect(report.exitCode == 0)
        #expect(totals.generated == 3)
        #expect(totals.retries == 6)
        #expect(totals.requestsSent == 9)
        #expect(server.requestCount == 9)
    }

    @Test func slowAnswersTimeOut() async throws {
        let server = try await OpenAITestServer.start(always: .delayed(seconds: 5, .completion(content: "late")))
        let harness = try JobHarness()
        let (report, _) = await harness.run(
            Fixtures.tasks(2),
            settings: .test(concurrency: 2, timeout: 0.2, retries: 1),
            provider: provider(server)
        )
        let seen = server.requestCount
        await server.stop()
        let totals = report.result.totals
        #expect(report.exitCode == CollectExitCode.providerFailed)
        #expect(totals.counter("failed_timeout") == 2)
        #expect(totals.requestsSent == 4)
        // On a loaded machine an attempt can time out before its request even reaches the server.
        #expect(seen <= 4)
    }

    @Test(arguments: [
        ("malformed JSON", OpenAITestServer.Reply.malformedJSON),
        ("HTML page", OpenAITestServer.Reply.htmlPage),
        ("no choices", OpenAITestServer.Reply.missingChoices),
    ])
    func malformedResponsesAreCountedFailures(label: String, reply: OpenAITestServer.Reply) async throws {
        let server = try await OpenAITestServer.start(always: reply)
        let harness = try JobHarness()
        let (report, log) = await harness.run(
            Fixtures.tasks(5),
            settings: .test(concurrency: 2, retries: 3),
            provider: provider(server)
        )
        await server.stop()
        let totals = report.result.totals
        #expect(report.exitCode == CollectExitCode.providerFailed, "\(label)")
        #expect(totals.counter("failed_malformed_response") == 5)
        #expect(totals.failed == 5)
        #expect(totals.retries == 0, "a malformed answer is not retried")
        #expect(server.requestCount == 5)
        #expect(log.text.contains("malformed response"))
        #expect(!Fixtures.fileExists(harness.output))
    }

    @Test func mixedMalformedAnswersDoNotStopTheRun() async throws {
        let server = try await OpenAITestServer.start { n, _ in n % 4 == 0 ? .htmlPage : .completion(content: "fine") }
        let harness = try JobHarness()
        let (report, _) = await harness.run(
            Fixtures.tasks(8),
            settings: .test(concurrency: 1),
            provider: provider(server)
        )
        await server.stop()
        #expect(report.exitCode == 0)
        #expect(report.result.totals.counter("failed_malformed_response") == 2)
        #expect(report.written == 6)
    }

    @Test func unauthorizedStopsTheRunWithoutLeakingTheKey() async throws {
        let server = try await OpenAITestServer.start { _, _ in
            .status(
                401,
                body:
                    #"{"error":{"message":"Incorrect API key provided: \#(Self.key). You can find your API key at https://example"}}"#
            )
        }
        let harness = try JobHarness()
        let (report, log) = await harness.run(
            Fixtures.tasks(40),
            settings: .test(concurrency: 4),
            provider: provider(server)
        )
        await server.stop()
        #expect(report.exitCode == CollectExitCode.providerFailed)
        #expect(server.requestCount <= 4, "no new request after the first 401")
        #expect(report.result.totals.counter("skipped_provider_unusable") >= 36)
        #expect(report.summary.contains("check the API key"))
        #expect(!report.summary.contains(Self.key))
        #expect(!log.text.contains(Self.key))
        #expect(log.text.contains("[API_KEY]") || log.text.contains("[OPENAI_KEY]"))
        #expect(!Fixtures.fileExists(harness.output))
    }

    /// A refused connection is reported as such, at once: not as "no answer within 60s" after AsyncHTTPClient has
    /// re-dialled until its 10 s connect timeout. (The bound on the time is loose: in a full parallel test run the
    /// awaiting task may wait seconds for a cooperative thread; the kind of error is what tells the two apart.)
    @Test func refusedConnectionsFailAtOnceAndSaySo() async throws {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let port = refusing.port
        let provider = OpenAIProvider(
            endpoint: .init(baseURL: "http://127.0.0.1:\(port)/v1", apiKey: nil, maxConnections: 1)
        )
        let request = TeacherRequest(
            task: Fixtures.tasks(1)[0],
            attempt: 1,
            model: "m",
            maxOutputTokens: 10,
            temperature: 0,
            seed: 1,
            timeout: 60
        )
        let started = ContinuousClock.now
        var failure: ProviderError?
        do { _ = try await provider.complete(request) } catch { failure = error }
        let elapsed = ContinuousClock.now - started
        await provider.shutdown()
        guard case .transport(let message)? = failure else {
            Issue.record("expected a connection error, got \(String(describing: failure)) after \(elapsed)")
            return
        }
        #expect(message == "connect to 127.0.0.1:\(port) failed: Connection refused (errno 111)", "\(message)")
        #expect(failure?.description.hasPrefix("connection failed: ") == true)
        #expect(elapsed < .seconds(30), "took \(elapsed)")
    }

    @Test func connectionFailuresAreRetriedTransportErrors() async throws {
        // Not a stopped server's port: in a parallel test run another test's server may take it again.
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let closed = "http://127.0.0.1:\(refusing.port)/v1"
        let harness = try JobHarness()
        let provider = OpenAIProvider(
            endpoint: .init(baseURL: closed, apiKey: nil, maxConnections: 1, connectTimeout: 1)
        )
        let (report, _) = await harness.run(
            Fixtures.tasks(1),
            settings: .test(concurrency: 1, retries: 2),
            provider: provider
        )
        #expect(report.exitCode == CollectExitCode.providerFailed)
        #expect(report.result.totals.counter("failed_transport") == 1)
        #expect(report.result.totals.requestsSent == 3)
    }
}

/// A TCP port on 127.0.0.1 that refuses every connection for as long as it is held: a bound socket that does not
/// listen. Unlike a stopped server's port, no other test can take it meanwhile.
struct RefusingPort {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        try #require(bound)
        port = UInt16(bigEndian: address.sin_port)
    }

    func close() { _ = Glibc.close(fd) }
}
