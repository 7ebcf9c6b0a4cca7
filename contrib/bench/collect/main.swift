// heidi-collect-bench-server: a minimal OpenAI-compatible chat-completions server on loopback for
// contrib/bench/collect-bench.sh. Answers every POST with the same completion (a ~600-byte answer with a Python code
// block and usage), optionally after a fixed latency, with HTTP/1.1 keep-alive. Prints "port N" once listening.
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import NIOPosix

/// Options: --port N (default 0: any free port), --threads N (default 1), --latency-ms N (default 0).
struct Options {
    var port = 0
    var threads = 1
    var latencyMilliseconds: Int64 = 0

    init(_ arguments: [String]) {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            let value = rest.popFirst() ?? ""
            switch flag {
            case "--port": port = Int(value) ?? port
            case "--threads": threads = max(1, Int(value) ?? threads)
            case "--latency-ms": latencyMilliseconds = Int64(value) ?? 0
            default:
                let message = "usage: heidi-collect-bench-server [--port N] [--threads N] [--latency-ms N]\n"
                _ = message.withCString { write(2, $0, strlen($0)) }
                exit(2)
            }
        }
    }
}

let answer = #"Here is a Python solution for `calculate_sum`.\n\n```python\ndef calculate_sum(values):\n    \"\"\"Return the sum of values.\"\"\"\n    total = 0\n    for value in values:\n        total += value\n    return total\n```\n\nIt runs in linear time and handles empty input; each step is small enough to test on its own, and the function has no side effects."#
let body = #"{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"\#(answer)"},"finish_reason":"stop"}],"usage":{"prompt_tokens":85,"completion_tokens":96,"total_tokens":181}}"#

/// Answers each complete request with the canned completion.
final class CompletionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let latency: TimeAmount
    private var keepAlive = true
    private let responseBody: ByteBuffer
    private let headers: HTTPHeaders

    init(latency: TimeAmount) {
        self.latency = latency
        responseBody = ByteBuffer(string: body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(responseBody.readableBytes))
        self.headers = headers
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): keepAlive = head.isKeepAlive
        case .body: break
        case .end:
            if latency == .zero {
                respond(context)
            } else {
                context.eventLoop.assumeIsolated().scheduleTask(in: latency) { self.respond(context) }
            }
        }
    }

    private func respond(_ context: ChannelHandlerContext) {
        var headers = self.headers
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(responseBody))), promise: nil)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
let latency = TimeAmount.milliseconds(options.latencyMilliseconds)
let channel = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 4096)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
            try channel.pipeline.syncOperations.addHandler(CompletionHandler(latency: latency))
        }
    }
    .bind(host: "127.0.0.1", port: options.port)
    .wait()
let announcement = "port \(channel.localAddress?.port ?? 0)\n"
_ = announcement.withCString { write(1, $0, strlen($0)) }
try channel.closeFuture.wait()
