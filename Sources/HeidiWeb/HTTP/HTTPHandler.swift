import NIOCore
import NIOHTTP1

/// Reads one request at a time (the server pipeline queues pipelined ones), hands it to the router on a task, and
/// writes the answer; streamed bodies are written chunk by chunk with chunked encoding, each write waited for, so a
/// client that stops reading stops its stream instead of growing the outbound buffer.
final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let router: WebRouter
    let isTLS: Bool
    private let pending = RequestBuffer()
    /// A write that does not complete within this many seconds closes the connection (a stuck client).
    static let writeTimeout: Int64 = 20

    init(router: WebRouter, isTLS: Bool) {
        self.router = router
        self.isTLS = isTLS
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            pending.set(PendingRequest(head: head, body: [], tooLarge: false))
        case .body(var buffer):
            pending.update { request in
                if request.body.count + buffer.readableBytes > WebServer.maxBody(uri: request.head.uri) {
                    request.tooLarge = true
                    return
                }
                request.body += buffer.readBytes(length: buffer.readableBytes) ?? []
            }
        case .end:
            guard let request = pending.take() else { return }
            let channel = context.channel
            let keepAlive = request.head.isKeepAlive
            let webRequest = WebRequest(
                head: request.head,
                body: request.body,
                remote: channel.remoteAddress,
                isTLS: isTLS
            )
            let router = router
            let tooLarge = request.tooLarge
            Task {
                let response =
                    tooLarge
                    ? WebResponse.error(
                        413,
                        "too_large",
                        "request body over \(WebServer.maxBody(uri: request.head.uri)) bytes"
                    )
                    : await router.handle(webRequest)
                await Self.write(
                    response,
                    to: channel,
                    keepAlive: keepAlive && !tooLarge,
                    version: request.head.version
                )
            }
        }
    }

    static func write(_ response: WebResponse, to channel: any Channel, keepAlive: Bool, version: HTTPVersion) async {
        var headers = HTTPHeaders(response.headers)
        let streaming: AsyncStream<[UInt8]>?
        switch response.body {
        case .bytes(let bytes):
            headers.replaceOrAdd(name: "Content-Length", value: String(bytes.count))
            streaming = nil
        case .stream(let stream):
            headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
            streaming = stream
        }
        headers.replaceOrAdd(name: "Connection", value: keepAlive && streaming == nil ? "keep-alive" : "close")
        let head = HTTPResponseHead(
            version: version,
            status: HTTPResponseStatus(statusCode: response.status),
            headers: headers
        )
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        if let streaming {
            channel.flush()
            let pump = Task {
                for await chunk in streaming {
                    let written = send(.body(.byteBuffer(ByteBuffer(bytes: chunk))), on: channel)
                    let watchdog = channel.eventLoop.scheduleTask(in: .seconds(writeTimeout)) {
                        channel.close(promise: nil)
                    }
                    do { try await written.get() } catch {
                        watchdog.cancel()
                        break
                    }
                    watchdog.cancel()
                }
            }
            // A client that goes away while nothing is sent ends the stream (and its upstream follow) at once.
            channel.closeFuture.whenComplete { _ in pump.cancel() }
            await pump.value
            _ = try? await send(.end(nil), on: channel).get()
            channel.close(promise: nil)
            return
        }
        if case .bytes(let bytes) = response.body, !bytes.isEmpty {
            channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: bytes))), promise: nil)
        }
        let done = send(.end(nil), on: channel)
        if !keepAlive { done.whenComplete { _ in channel.close(promise: nil) } }
    }
}

/// Writes and flushes a response part; the future completes when it reached the socket.
func send(_ part: HTTPServerResponsePart, on channel: any Channel) -> EventLoopFuture<Void> {
    let promise = channel.eventLoop.makePromise(of: Void.self)
    channel.writeAndFlush(part, promise: promise)
    return promise.futureResult
}

struct PendingRequest: Sendable {
    var head: HTTPRequestHead
    var body: [UInt8]
    var tooLarge: Bool
}

/// The request being read on a connection: touched only on the connection's event loop (hence unchecked).
final class RequestBuffer: @unchecked Sendable {
    private var value: PendingRequest?
    func set(_ request: PendingRequest) { value = request }
    func update(_ body: (inout PendingRequest) -> Void) {
        if var current = value {
            body(&current)
            value = current
        }
    }
    func take() -> PendingRequest? {
        defer { value = nil }
        return value
    }
}
