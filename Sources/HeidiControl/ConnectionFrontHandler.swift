import HeidiCore
import NIOCore
import NIOHTTP1

/// The part of a control connection that runs on its event loop, between NIO's HTTP codec and the connection's task.
///
/// - Answers what the router answers at once (status, from the engine's status board) right here, instead of
///   handing the request to the task and the response back: each hand-over is a thread switch, and those switches
///   were most of a status round trip. Every other request goes on to the task unchanged; the task is started
///   (`handOff`) with the first of them, so a connection that asks only for status costs no task at all.
/// - Closes the connection when a request does not arrive complete within the idle timeout of the connection
///   opening or of the last response (idle and slow clients), whichever path served it.
/// - Closes a connection only once the last byte of its response has reached the socket: a close asked for
///   earlier (a `Connection: close` response, the connection's task ending) waits for that, because closing at
///   once discards what NIO still buffers for the reader (large responses were cut off before their end). A
///   reader that takes in nothing for the stall timeout while a response waits for it is closed at once.
///
/// Both timeouts are kept as deadlines, moved by every request and response, and checked by one timer each that
/// fires at the deadline it was armed for and re-arms itself for a deadline that moved meanwhile: scheduling and
/// cancelling two timers per request (four timer-heap operations and their allocations) was a tenth of the event
/// loop's work for a status request on a kept-alive connection.
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
    /// Starts the connection's task (wraps the channel for it), before the first request passed on; nil once done,
    /// or when the task exists already or is not the server's (tests, the fuzz harness).
    private var handOff: (@Sendable (Channel) throws -> Void)?
    /// Requests passed on to the task whose response has not ended.
    private var withTask = 0
    /// The request being answered here, between its head and its end.
    private var answering: (response: ControlResponse, keepAlive: Bool, started: UInt64)?
    /// When the connection closes for idleness (nil: not while a request is being read or answered by the task).
    private var idleDeadline: NIODeadline?
    private var idleTimer: Scheduled<Void>?
    private let stallTimeout: TimeAmount
    /// Responses whose end has been written but not yet reached the socket.
    private var unflushedEnds = 0
    /// Whether the response being written ends the connection (its head says `Connection: close`).
    private var closesAfterResponse = false
    /// When a reader that takes nothing in is closed (nil: no response waits for the reader).
    private var stallDeadline: NIODeadline?
    private var stallTimer: Scheduled<Void>?
    /// A close that waits for the response being written to reach the socket.
    private var heldClose: (mode: CloseMode, promise: EventLoopPromise<Void>?)?

    init(
        router: ControlRouter,
        idleTimeout: TimeAmount,
        stallTimeout: TimeAmount = .seconds(60),
        answersHere: Bool,
        handOff: (@Sendable (Channel) throws -> Void)? = nil
    ) {
        self.router = router
        self.handOff = handOff
        self.idleTimeout = idleTimeout
        self.stallTimeout = stallTimeout
        self.answersHere = answersHere
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { armIdleClose(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armIdleClose(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        if let held = heldClose {
            heldClose = nil
            held.promise?.succeed(())
        }
        context.fireChannelInactive()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, unflushedEnds > 0, context.channel.isActive else {
            context.close(mode: mode, promise: promise)
            return
        }
        if let held = heldClose, let earlier = held.promise {
            promise.map { earlier.futureResult.cascade(to: $0) }
        } else {
            heldClose = (mode, promise)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A status request answered before the codec (`StatusFastPath`) counts as activity, as one answered here.
        guard event is StatusFastPath.Answered else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        if withTask == 0 && answering == nil { armIdleClose(context) }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        updateStallClose(context)
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if withTask == 0, answersHere, !head.announcesBody,
                let response = router.immediateResponse(method: head.method.rawValue, path: head.uri)
            {
                answering = (response, head.isKeepAlive, MonotonicClock.nanoseconds())
                return
            }
            if let start = handOff {
                // The task's handlers join the pipeline after this one now, so they receive this head.
                handOff = nil
                do {
                    try start(context.channel)
                } catch {
                    context.close(promise: nil)
                    return
                }
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
        switch unwrapOutboundIn(data) {
        case .head(let head):
            closesAfterResponse = head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            withTask = max(0, withTask - 1)
            context.write(data, promise: endWritten(context, closing: closesAfterResponse, then: promise))
        }
    }

    private func answer(_ response: ControlResponse, keepAlive: Bool, started: UInt64, context: ChannelHandlerContext) {
        guard case .bytes(let bytes) = response.body else {
            assertionFailure("the router answers at once only with a byte body")
            context.close(promise: nil)
            return
        }
        let parts = response.parts(keepAlive: keepAlive, bytes: bytes)
        for part in parts.dropLast() { context.write(wrapOutboundOut(part), promise: nil) }
        if let end = parts.last {
            context.write(wrapOutboundOut(end), promise: endWritten(context, closing: !keepAlive, then: nil))
        }
        context.flush()
        router.stats.record(seconds: Double(MonotonicClock.nanoseconds() - started) / 1e9)
    }

    /// The promise for a response's end: once the end has reached the socket, the connection closes (after a
    /// `Connection: close` response) or waits for the next request (idle timeout). Until then the stall
    /// timeout watches the reader.
    private func endWritten(
        _ context: ChannelHandlerContext,
        closing: Bool,
        then promise: EventLoopPromise<Void>?
    ) -> EventLoopPromise<Void> {
        let written = promise ?? context.eventLoop.makePromise()
        unflushedEnds += 1
        updateStallClose(context)
        let channel = context.channel
        written.futureResult.assumeIsolated().whenComplete { result in
            self.unflushedEnds -= 1
            guard case .success = result, channel.isActive else { return }
            if closing || (self.heldClose != nil && self.unflushedEnds == 0) {
                self.closeNow(context)
            } else {
                if self.withTask == 0 { self.armIdleClose(context) }
                self.updateStallClose(context)
            }
        }
        return written
    }

    /// Arms the stall timeout while a response waits for the reader (the channel is not writable, or an ended
    /// response has not reached the socket); a reader that takes something in moves it.
    private func updateStallClose(_ context: ChannelHandlerContext) {
        let waiting = !context.channel.isWritable || unflushedEnds > 0
        stallDeadline = waiting ? context.eventLoop.now + stallTimeout : nil
        if let deadline = stallDeadline, stallTimer == nil { scheduleStallCheck(context, at: deadline) }
    }

    private func scheduleStallCheck(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        stallTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.stallTimer = nil
            guard let due = self.stallDeadline else { return }
            if due <= context.eventLoop.now {
                self.closeNow(context)
            } else {
                self.scheduleStallCheck(context, at: due)
            }
        }
    }

    /// Closes now, completing a held close's promise with it.
    private func closeNow(_ context: ChannelHandlerContext) {
        let held = heldClose
        heldClose = nil
        context.close(mode: .all, promise: held?.promise)
    }

    private func armIdleClose(_ context: ChannelHandlerContext) {
        let deadline = context.eventLoop.now + idleTimeout
        idleDeadline = deadline
        if idleTimer == nil { scheduleIdleCheck(context, at: deadline) }
    }

    private func scheduleIdleCheck(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        let channel = context.channel
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.idleTimer = nil
            guard let due = self.idleDeadline else { return }
            if due <= context.eventLoop.now {
                channel.close(promise: nil)
            } else {
                self.scheduleIdleCheck(context, at: due)
            }
        }
    }

    private func disarmIdleClose() { idleDeadline = nil }

    private func cancelTimers() {
        idleDeadline = nil
        stallDeadline = nil
        idleTimer?.cancel()
        idleTimer = nil
        stallTimer?.cancel()
        stallTimer = nil
    }
}

extension HTTPRequestHead {
    /// Whether a body follows the head (a length other than zero, or chunked transfer encoding).
    fileprivate var announcesBody: Bool {
        if let length = headers.first(name: "content-length") { return length != "0" }
        return headers.contains(name: "transfer-encoding")
    }
}
