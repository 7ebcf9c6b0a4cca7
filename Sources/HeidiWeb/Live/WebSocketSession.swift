import NIOCore
import NIOHTTP1
import NIOWebSocket

/// `/api/v1/ws`: the hub's items as JSON text frames (`state_update`, `event` with its seq, `log`), resumable with
/// `?after=SEQ`. The upgrade passes the same gate as any GET (Host, credentials) plus an Origin check: browsers send
/// cookies on cross-site WebSocket handshakes, so a foreign Origin is refused.
final class WebSocketSession: ChannelInboundHandler, Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let router: WebRouter
    let request: WebRequest

    init(router: WebRouter, request: WebRequest) {
        self.router = router
        self.request = request
    }

    /// Whether a handshake may upgrade: the policy allows it as a GET, its Origin (if any) is this dashboard's own,
    /// and `after` is a seq.
    static func accepts(_ request: WebRequest, router: WebRouter) -> Bool {
        guard request.path == "/api/v1/ws", LiveFormat.resumeSeq(request) != nil else { return false }
        guard case .allowed = router.policy.check(request) else { return false }
        if let origin = request.header("origin")?.lowercased(), let host = request.header("host")?.lowercased() {
            return origin == "\(request.isTLS ? "https" : "http")://\(host)"
        }
        return true
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        let items = router.hub.subscribe(after: LiveFormat.resumeSeq(request) ?? 0)
        let pump = Task {
            for await item in items {
                var buffer = channel.allocator.buffer(capacity: 256)
                buffer.writeBytes(LiveFormat.webSocket(item))
                let written = channel.eventLoop.makePromise(of: Void.self)
                channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, data: buffer), promise: written)
                let watchdog = channel.eventLoop.scheduleTask(in: .seconds(HTTPHandler.writeTimeout)) {
                    channel.close(promise: nil)
                }
                do { try await written.futureResult.get() } catch {
                    watchdog.cancel()
                    break
                }
                watchdog.cancel()
            }
            // Dropped for falling behind, or the hub stopped: close; the client resumes with ?after=.
            let close = WebSocketFrame(
                fin: true,
                opcode: .connectionClose,
                data: channel.allocator.buffer(bytes: [0x03, 0xe9])
            )
            channel.writeAndFlush(close, promise: nil)
            channel.close(promise: nil)
        }
        channel.closeFuture.whenComplete { _ in pump.cancel() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .ping:
            context.writeAndFlush(
                wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)),
                promise: nil
            )
        case .connectionClose:
            context.close(promise: nil)
        default:
            break  // the stream is one-way; text from the client is ignored
        }
    }
}
