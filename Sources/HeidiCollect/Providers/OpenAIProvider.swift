import AsyncHTTPClient
import HeidiCore
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Any OpenAI-compatible chat-completions endpoint: `POST {base_url}/chat/completions`.
///
/// One shared `HTTPClient` whose connection pool is sized to the run's concurrency; TLS for `https://` base URLs;
/// redirects are not followed (they could carry the key elsewhere). `shutdown()` must be called once at the end.
public final class OpenAIProvider: TeacherProvider {
    /// Where and how to connect.
    public struct Endpoint: Sendable {
        /// `https://api.openai.com/v1`, `http://127.0.0.1:8000/v1` (vLLM), `http://localhost:11434/v1` (Ollama).
        public var baseURL: String
        public var apiKey: APIKey?
        /// Connections kept per host: the run's concurrency.
        public var maxConnections: Int
        public var connectTimeout: Double

        public init(baseURL: String, apiKey: APIKey?, maxConnections: Int, connectTimeout: Double = 10) {
            self.baseURL = baseURL
            self.apiKey = apiKey
            self.maxConnections = maxConnections
            self.connectTimeout = connectTimeout
        }
    }

    /// Largest response body read; a bigger one is a malformed response.
    public static let maxResponseBytes = 8 << 20
    public var name: String { "openai" }

    private let client: HTTPClient
    private let url: String
    private let headers: HTTPHeaders
    private let scrubber: SecretScrubber

    public init(endpoint: Endpoint) {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(Int64(endpoint.connectTimeout * 1000)), read: nil),
            connectionPool: .init(
                idleTimeout: .seconds(60),
                concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, endpoint.maxConnections)
            )
        )
        // A refused or unreachable endpoint fails the attempt at once with its own error; otherwise the pool keeps
        // reconnecting in the background until the request's deadline, and "connection refused" surfaces only as
        // "no answer within <timeout>" after the whole timeout. The collector's retry policy owns retries.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.httpVersion = .automatic
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        url = Self.completionsURL(endpoint.baseURL)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Accept", value: "application/json")
        headers.add(name: "User-Agent", value: "heidi-collect/0.1.0")
        if let key = endpoint.apiKey { headers.add(name: "Authorization", value: "Bearer \(key.value)") }
        self.headers = headers
        scrubber = SecretScrubber(secrets: endpoint.apiKey.map { [$0.value] } ?? [])
    }

    /// `{base}/chat/completions`, without a doubled slash.
    public static func completionsURL(_ baseURL: String) -> String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/chat/completions"
    }

    /// One attempt, bounded by `request.timeout` from the request until the whole body is read (AsyncHTTPClient's
    /// own deadline ends when the response head arrives).
    public func complete(_ request: TeacherRequest) async throws(ProviderError) -> TeacherResponse {
        try await Deadline.run(seconds: request.timeout) { () async throws(ProviderError) -> TeacherResponse in
            try await self.attempt(request)
        }.get()
    }

    private func attempt(_ request: TeacherRequest) async throws(ProviderError) -> TeacherResponse {
        var httpRequest = HTTPClientRequest(url: url)
        httpRequest.method = .POST
        httpRequest.headers = headers
        httpRequest.body = .bytes(ByteBuffer(bytes: ChatCompletionsWire.requestBody(request)))
        let status: Int
        let responseHeaders: HTTPHeaders
        let body: [UInt8]
        do {
            // The collector enforces the timeout; the deadline here (slightly later) makes sure the client lets go.
            let response = try await client.execute(
                httpRequest,
                deadline: .now() + .milliseconds(Int64(request.timeout * 1000) + 1000)
            )
            status = Int(response.status.code)
            responseHeaders = response.headers
            var buffer = try await response.body.collect(upTo: Self.maxResponseBytes)
            body = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            throw map(error, timeout: request.timeout)
        }
        guard (200..<300).contains(status) else {
            throw failure(status: status, headers: responseHeaders, body: body)
        }
        do {
            return try ChatCompletionsWire.parseResponse(body, contentType: responseHeaders.first(name: "content-type"))
        } catch {
            throw scrubbed(error)
        }
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    private func failure(status: Int, headers: HTTPHeaders, body: [UInt8]) -> ProviderError {
        let detail = scrubber.scrub(ChatCompletionsWire.errorDetail(body))
        let retryAfter = headers.first(name: "retry-after").flatMap {
            RetryAfter.seconds($0, now: Double(Timestamp.now().microseconds) / 1e6)
        }
        switch status {
        case 429: return .rateLimited(retryAfter: retryAfter, message: detail)
        case 401, 403: return .unauthorized(status: status, message: detail)
        case 408, 500...599: return .server(status: status, retryAfter: retryAfter, message: detail)
        default: return .rejected(status: status, message: detail)
        }
    }

    private func map(_ error: any Error, timeout: Double) -> ProviderError {
        if Task.isCancelled { return .cancelled }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout: return .timeout(seconds: timeout)
            case .cancelled: return .cancelled
            default: break
            }
        }
        if error is NIOTooManyBytesError {
            return .malformed("response larger than \(Self.maxResponseBytes >> 20) MiB")
        }
        return .transport(scrubber.scrub(Self.connectionFailure(error, url: url) ?? String(describing: error)))
    }

    /// "connect to 127.0.0.1:8000 failed: Connection refused (errno 111)" for a connection that could not be made
    /// (every address tried), "127.0.0.1:8000: Connection reset by peer (errno 104)" for one the server dropped.
    static func connectionFailure(_ error: any Error, url: String) -> String? {
        let authority =
            url.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? url
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ETIMEDOUT:
                return "connect to \(authority) failed: \(reason(error))"
            case ECONNRESET, EPIPE: return "\(authority): \(reason(error))"
            default: return nil
            }
        }
        if let error = error as? NIOConnectionError {
            var reasons: [String] = []
            for failure in error.connectionErrors where !reasons.contains(reason(failure.error)) {
                reasons.append(reason(failure.error))
            }
            if reasons.isEmpty {
                reasons = [(error.dnsAError ?? error.dnsAAAAError).map(reason) ?? "no address for the host"]
            }
            return "connect to \(error.host):\(error.port) failed: " + reasons.joined(separator: "; ")
        }
        return nil
    }

    private static func reason(_ error: any Error) -> String {
        guard let error = error as? IOError else { return String(describing: error) }
        return String(cString: strerror(error.errnoCode)) + " (errno \(error.errnoCode))"
    }

    private func scrubbed(_ error: ProviderError) -> ProviderError {
        switch error {
        case .malformed(let message): return .malformed(scrubber.scrub(message))
        default: return error
        }
    }
}
