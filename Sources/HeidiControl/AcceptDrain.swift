import NIOCore
import Synchronization

/// Lets a graceful shutdown close the listening channel without dropping a connection it has already accepted.
///
/// Closing the listening channel ends the stream of accepted connections at once. A connection the kernel had
/// already handed to heidid, whose channel initializer was still running (on the connection's event loop, a hop
/// away), was then dropped by NIO and closed with its request unread, and Linux answers that with a reset:
/// heidictl saw "Connection reset by peer" in 1 call of 107 during `systemctl restart heidi`. So a shutdown first
/// stops accepting (`StopAcceptingHandler`), then closes the listening channel, which ends the server's stream of
/// connections handed to tasks, only once every connection accepted so far has settled: handed to its task
/// (which serves it to its end as usual), or closed without one (answered on its event loop by the front handler,
/// then closed by the client, its `Connection: close` or the idle timeout; or failed to set up). A connection the
/// front handler serves keeps the stream open, so a request of it that needs the router still gets its task
/// during the shutdown. The connections not accepted stay in the socket's backlog, which under socket activation
/// systemd keeps open for the next heidid.
final class AcceptDrain: Sendable {
    private struct State {
        var accepted = 0
        var settled = 0
        var draining = false
        var whenDrained: (@Sendable () -> Void)?

        /// The action to run now that nothing accepted is in between, taken so that it runs once.
        mutating func takeIfDrained() -> (@Sendable () -> Void)? {
            guard draining, settled >= accepted, let action = whenDrained else { return nil }
            whenDrained = nil
            return action
        }
    }

    private let state = Mutex(State())

    init() {}

    /// Whether the listening channel has stopped accepting.
    var isDraining: Bool { state.withLock { $0.draining } }

    /// Counts a connection the listening channel accepted, before its initializer runs.
    func accepted() { state.withLock { $0.accepted += 1 } }

    /// Counts an accepted connection that was handed to the server's task, or closed without one.
    func settled() {
        let action = state.withLock { state in
            state.settled += 1
            return state.takeIfDrained()
        }
        action?()
    }

    /// Marks the listening channel as no longer accepting and runs `close` once every connection it accepted has
    /// settled: at once if none is in between. Call on the listening channel's event loop, after turning its
    /// auto-read off, so that the count of accepted connections is final.
    func drain(then close: @escaping @Sendable () -> Void) {
        let action = state.withLock { state in
            state.draining = true
            state.whenDrained = close
            return state.takeIfDrained()
        }
        action?()
    }
}

extension AcceptDrain {
    /// One accepted connection's settling, counted once whichever comes first: its hand-over or its close.
    final class Settlement: Sendable {
        private let drain: AcceptDrain
        private let done = Atomic<Bool>(false)

        init(_ drain: AcceptDrain) {
            self.drain = drain
        }

        func settle() {
            if !done.exchange(true, ordering: .relaxed) { drain.settled() }
        }
    }
}

/// The first handler of the listening channel: counts each accepted connection for `AcceptDrain` before NIO
/// sets it up, and once draining passes no read request on (turning auto-read off stops the reads NIO asks for
/// itself; this stops any a handler behind it asks for).
final class StopAcceptingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = Any
    typealias InboundOut = Any
    typealias OutboundIn = Any
    typealias OutboundOut = Any

    private let drain: AcceptDrain

    init(drain: AcceptDrain) {
        self.drain = drain
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        drain.accepted()
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        if !drain.isDraining { context.read() }
    }
}
