import HeidiCore
import NIOCore
import NIOHTTP1

/// The part of a control connection that runs on its event loop, between NIO's HTTP codec and the connection's task.
///
/// - Answers what the router answers at once (status, from the engine's status board) right here, instead of
///   handing the request to the task and the response back: each hand-over is a thread switch, and those switches
///   were most of a status round trip. Every other request goes on to the task unchanged.
/// - Closes the connection when a request does not arrive complete within the idle timeout of the connection
///   opening or of the last response (idle and slow clients), whichever path served it.
///
/// Responses keep their order: NIO's pipelining handler, in front of this one, passes on a request only once the
/// response to the previous one has ended, and a request is answered here only while the task has none.
final class ConnectionFrontHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let router: ControlRouter
    private let idleTimeout: TimeAmount
    /// False on a connection over the limit: the task answers its requests with 503.
    private let answersHere: Bool
    /// Requests passed on to the task whose response has not ended.
    private var withTask = 0
    /// The request being answered here, between its head and its end.
    private var answering: (response: ControlResponse, keepAlive: Bool, started: UInt64)?
    private var idleClose: Scheduled<Void>?

    init(router: ControlRouter, idleTimeout: TimeAmount, answersHere: Bool) {
        self.router = router
        self.idleTimeout = idleTimeout
        self.answersHere = answersHere
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { armIdleClose(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armIdleClose(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { disarmIdleClose() }

    func channelInactive(context: ChannelHandlerContext) {
        disarmIdleClose()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if withTask == 0, answersHere, !head.announcesBody,
               let response = router.immediateResponse(method: head.method.rawValue, path: head.uri) {
                answering = (response, head.isKeepAlive, MonotonicClock.nanoseconds())
                return
            }
            withTask += 1
            context.fireChannelRead(data)
        case .body:
            // A request answered here announced no body; NIO's decoder delivers none for it.
            if answering == nil { context.fireChannelRead(data) }
        case .end:
            disarmIdleClose()
            guard let (response, keepAlive, started) = answering else {
                context.fireChannelRead(data)
                return
            }
            answering = nil
            answer(response, keepAlive: keepAlive, started: started, context: context)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            withTask = max(0, withTask - 1)
            if withTask == 0 { armIdleClose(context) }
        }
        context.write(data, promise: promise)
    }

    private func answer(_ response: ControlResponse, keepAlive: Bool, started: UInt64, context: ChannelHandlerContext) {
        guard case .bytes(let bytes) = response.body else {
            assertionFailure("the router answers at once only with a byte body")
            context.close(promise: nil)
            return
        }
        for part in response.parts(keepAlive: keepAlive, bytes: bytes) { context.write(wrapOutboundOut(part), promise: nil) }
        context.flush()
        router.stats.record(seconds: Double(MonotonicClock.nanoseconds() - started) / 1e9)
        if keepAlive {
            armIdleClose(context)
        } else {
            context.close(promise: nil)
        }
    }

    private func armIdleClose(_ context: ChannelHandlerContext) {
        idleClose?.cancel()
        let channel = context.channel
        idleClose = context.eventLoop.scheduleTask(in: idleTimeout) { channel.close(promise: nil) }
    }

    private func disarmIdleClose() {
        idleClose?.cancel()
        idleClose = nil
    }
}

extension HTTPRequestHead {
    /// Whether a body follows the head (a length other than zero, or chunked transfer encoding).
    fileprivate var announcesBody: Bool {
        if let length = headers.first(name: "content-length") { return length != "0" }
        return headers.contains(name: "transfer-encoding")
    }
}
