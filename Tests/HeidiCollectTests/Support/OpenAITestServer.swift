import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A local OpenAI-compatible chat-completions server on loopback for tests. A script decides each answer by
/// request number: completions, error statuses (429 with Retry-After, 500, 401...), slow answers, malformed JSON,
/// HTML pages. It records every request (path, Authorization header, body, arrival time).
final class OpenAITestServer: Sendable {
    /// One scripted answer.
    indirect enum Reply: Sendable {
        case completion(content: String, promptTokens: Int = 11, completionTokens: Int = 22)
        case status(Int, body: String, contentType: String = "application/json", headers: [(String, String)] = [])
        /// Waits, then answers (the client may have given up by then).
        case delayed(seconds: Double, Reply)
        case raw(String, contentType: String)

        static func rateLimited(retryAfter: String) -> Reply {
            .status(
                429,
                body: #"{"error":{"message":"Rate limit reached","type":"requests"}}"#,
                headers: [("Retry-After", retryAfter)]
            )
        }
        static let serverError = Reply.status(500, body: #"{"error":{"message":"The server had an error"}}"#)
        static let malformedJSON = Reply.raw(
            #"{"choices":[{"message":{"content":"truncated"#,
            contentType: "application/json"
        )
        static let htmlPage = Reply.raw(
            "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>",
            contentType: "text/html"
        )
        static let missingChoices = Reply.raw(
            #"{"id":"x","object":"chat.completion","usage":{"prompt_tokens":1,"completion_tokens":1}}"#,
            contentType: "application/json"
        )
    }

    struct RecordedRequest: Sendable {
        var path: String
        var authorization: String?
        var body: String
        var arrival: ContinuousClock.Instant
    }

    /// Decides the answer to request number `n` (1-based, in arrival order).
    typealias Script = @Sendable (_ n: Int, _ body: String) -> Reply

    let port: Int
    private let recorded = Mutex<[RecordedRequest]>([])
    private let script: Script
    private let serverTask = Mutex<Task<Void, Never>?>(nil)
    private let channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>

    var baseURL: String { "http://127.0.0.1:\(port)/v1" }
    var requests: [RecordedRequest] { recorded.withLock { $0 } }
    var requestCount: Int { recorded.withLock { $0.count } }

    private init(
        channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>,
        script: @escaping Script
    ) {
        self.channel = channel
        self.script = script
        port = channel.channel.localAddress?.port ?? 0
    }

    static func start(_ script: @escaping Script) async throws -> OpenAITestServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: child
                    )
                }
            }
        let server = OpenAITestServer(channel: channel, script: script)
        let task = Task { await server.serve() }
        server.serverTask.withLock { $0 = task }
        return server
    }

    /// Always the same answer.
    static func start(always reply: Reply) async throws -> OpenAITestServer {
        try await start { _, _ in reply }
    }

    func stop() async {
        let task = serverTask.withLock { $0 }
        task?.cancel()
        try? await channel.channel.close()
        await task?.value
    }

    private func serve() async {
        try? await channel.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { group in
                for try await connection in inbound {
                    group.addTask { await self.handle(connection) }
                }
            }
        }
    }

    private func handle(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let requestHead):
                    head = requestHead
                    body.clear()
                case .body(var chunk):
                    body.writeBuffer(&chunk)
                case .end:
                    guard let head else { continue }
                    let text = String(buffer: body)
                    let number = recorded.withLock { requests in
                        requests.append(
                            RecordedRequest(
                                path: head.uri,
                                authorization: head.headers.first(name: "authorization"),
                                body: text,
                                arrival: ContinuousClock.now
                            )
                        )
                        return requests.count
                    }
                    let reply =
                        head.uri.hasSuffix("/chat/completions")
                        ? script(number, text) : .status(404, body: #"{"error":{"message":"no such path"}}"#)
                    try await send(reply, outbound)
                }
            }
        }
    }

    private func send(_ reply: Reply, _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        switch reply {
        case .delayed(let seconds, let inner):
            try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            try await send(inner, outbound)
        case .completion(let content, let prompt, let completion):
            var body: [UInt8] = []
            body += Array(
                #"{"id":"chatcmpl-test","object":"chat.completion","model":"test-model","choices":[{"index":0,"message":{"role":"assistant","content":"#
                    .utf8
            )
            body += Array(Self.quoted(content).utf8)
            body += Array(
                #"},"finish_reason":"stop"}],"usage":{"prompt_tokens":\#(prompt),"completion_tokens":\#(completion),"total_tokens":\#(prompt + completion)}}"#
                    .utf8
            )
            try await write(200, body, contentType: "application/json", headers: [], outbound)
        case .status(let code, let body, let contentType, let headers):
            try await write(code, Array(body.utf8), contentType: contentType, headers: headers, outbound)
        case .raw(let body, let contentType):
            try await write(200, Array(body.utf8), contentType: contentType, headers: [], outbound)
        }
    }

    private func write(
        _ status: Int,
        _ body: [UInt8],
        contentType: String,
        headers extra: [(String, String)],
        _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        for (name, value) in extra { headers.add(name: name, value: value) }
        try await outbound.write(
            .head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers))
        )
        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
        try await outbound.write(.end(nil))
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += "\\u00" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
