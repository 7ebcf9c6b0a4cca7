import HeidiAPI
import HeidiCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The HTTP/1.1 control server on a Unix socket (SPEC §5), as a ServiceLifecycle service.
///
/// Binds `socketPath` itself, or takes a socket-activated descriptor (which it never unlinks). Status requests are
/// answered on the connection's event loop (`StatusFastPath` before the HTTP codec, else `ConnectionFrontHandler`);
/// every other request is served by the connection's task, which starts with the first such request (a connection
/// that asks only for status has none). Requests over 64 KiB get 413, idle connections are closed, and more than
/// `maxConnections` at once get 503. Nothing a client sends reaches the engine unless it parses. A graceful shutdown
/// stops accepting, answers every connection already accepted, and leaves the rest in the socket's backlog
/// (`AcceptDrain`).
public final class ControlServer: Service, Sendable {
    public struct Options: Sendable {
        /// Enough for a thousand polling clients at once (heidid raises its descriptor limit to match).
        public var maxConnections = 2048
        /// A request must arrive complete within this many seconds of the connection opening or the last response.
        public var idleTimeout: Double = 10
        /// A connection whose reader takes in nothing for this many seconds while a response waits is closed.
        public var stallTimeout: Double = 60
        public init() {}
    }

    private let socketPath: String
    private let activatedDescriptor: Int32?
    private let router: ControlRouter
    private let socketGroup: UInt32?
    private let logger: Logger
    private let options: Options
    private let onListening: @Sendable () async -> Void
    private let connections = Atomic<Int>(0)

    public init(
        socketPath: String,
        activatedDescriptor: Int32?,
        router: ControlRouter,
        socketGroup: UInt32?,
        logger: Logger,
        options: Options = Options(),
        onListening: @escaping @Sendable () async -> Void
    ) {
        self.socketPath = socketPath
        self.activatedDescriptor = activatedDescriptor
        self.router = router
        self.socketGroup = socketGroup
        self.logger = logger
        self.options = options
        self.onListening = onListening
    }

    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    /// An accepted connection, handed to its task.
    struct Accepted: Sendable {
        var connection: Connection
        var peer: PeerCredentials
        var overLimit: Bool
    }

    public func run() async throws {
        let drain = AcceptDrain()
        // Connections whose requests need the router, for the server's task to serve each in a task of its own.
        let handOffs = AsyncStream.makeStream(of: Accepted.self)
        // One event loop accepts and serves every connection. With the whole group as the child group, NIO hands
        // each accepted connection to the next loop in turn: every other `heidictl status` paid a wake-up of a
        // second thread (on these VMs, ~50 us per wake-up of an idle CPU) before its request was even read.
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let bootstrap = ServerBootstrap(group: loop, childGroup: loop)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(StopAcceptingHandler(drain: drain))
                }
            }
            .childChannelInitializer { channel in
                self.setUpConnection(channel, drain: drain, handOffs: handOffs.continuation)
            }
        let server: Channel
        if let activatedDescriptor {
            server = try await bootstrap.withBoundSocket(activatedDescriptor).get()
            logger.info("control socket taken from systemd (socket activation)", metadata: ["socket": "\(socketPath)"])
        } else {
            try ListeningSocket.prepare(socketPath)
            // Bind under a temporary name, set group and mode, then rename into place: the socket never exists
            // at its public path with the wrong owner or mode.
            let staging = ListeningSocket.stagingPath(for: socketPath)
            server = try await bootstrap.bind(unixDomainSocketPath: staging, cleanupExistingSocketFile: true).get()
            do {
                try ListeningSocket.publish(staging, at: socketPath, group: socketGroup)
            } catch {
                try? await server.close()
                throw error
            }
            logger.info("control socket listening", metadata: ["socket": "\(socketPath)"])
        }
        // However the listening channel ends (the drain, the bound below, an error), no more connections come.
        server.closeFuture.whenComplete { _ in handOffs.continuation.finish() }
        await onListening()
        defer {
            // Never unlink a socket systemd owns: it keeps queueing requests across restarts.
            if activatedDescriptor == nil { unlink(socketPath) }
        }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await accepted in handOffs.stream {
                    group.addTask { await self.serve(accepted) }
                }
            }
        } onGracefulShutdown: {
            // Closing the listening channel at once dropped the connections accepted but not yet set up, unread
            // (a reset for their clients; see `AcceptDrain`). Stop accepting first, close once every accepted
            // connection has settled (handed to its task, which serves it to its end, or closed, answered by the
            // front handler); the rest wait in the backlog.
            server.eventLoop.execute {
                // Auto-read off unregisters the listening socket from the event loop: nothing more is accepted,
                // so the count of accepted connections is final before the drain starts.
                _ = try? server.syncOptions?.setOption(.autoRead, value: false)
                drain.drain { server.close(promise: nil) }
            }
            // Bounded: a connection the front handler keeps open (an idle one closes within the idle timeout; a
            // client polling status on a kept-alive connection need not) must not hold the shutdown up forever.
            let bound = server.eventLoop.scheduleTask(in: .nanoseconds(Int64(2 * self.options.idleTimeout * 1e9))) {
                server.close(promise: nil)
            }
            server.closeFuture.whenComplete { _ in bound.cancel() }
        }
        // Cancelled rather than shut down gracefully: the listening channel is closed here.
        try? await server.close()
    }

    /// Sets up an accepted connection on its event loop. No task is started for it: the front handler answers
    /// status itself, and hands the connection to the server's task (`handOffs`) only when a request needs the
    /// router; a connection over the limit is handed over at once, for its 503. (A task per connection, started
    /// at accept, put two or three thread wake-ups on every `heidictl status`.) The connection settles for the
    /// drain when it is handed over or, never handed over, when it closes.
    private func setUpConnection(
        _ channel: Channel,
        drain: AcceptDrain,
        handOffs: AsyncStream<Accepted>.Continuation
    ) -> EventLoopFuture<Void> {
        let settlement = AcceptDrain.Settlement(drain)
        // Counted from accept to close; over the limit, the connection's task answers 503 and closes it. A
        // connection whose initializer fails is closed by NIO, which settles it too.
        let active = connections.wrappingAdd(1, ordering: .relaxed).newValue
        channel.closeFuture.whenComplete { _ in
            self.connections.wrappingSubtract(1, ordering: .relaxed)
            settlement.settle()
        }
        let overLimit = active > options.maxConnections
        let credentials: EventLoopFuture<UCred>
        if let provider = channel as? SocketOptionProvider {
            credentials = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(SOL_SOCKET),
                name: SocketOptionName(SO_PEERCRED)
            )
        } else {
            credentials = channel.eventLoop.makeSucceededFuture(UCred(pid: 0, uid: UInt32.max, gid: UInt32.max))
        }
        return credentials.flatMapThrowing { cred in
            let peer = PeerCredentials(pid: cred.pid, uid: cred.uid, gid: cred.gid)
            let handOff: @Sendable (Channel) throws -> Void = { channel in
                let accepted = Accepted(
                    connection: try Connection.closingOnDeinit(channel),
                    peer: peer,
                    overLimit: overLimit
                )
                // Yielded before it settles, so the drain's close (which ends the stream) comes after it. Once the
                // stream has ended (the shutdown's bound), no task can serve it: it is closed now (dropped, its
                // handlers, added after the connection became active, would keep it open with the request unread).
                if case .terminated = handOffs.yield(accepted) { channel.close(promise: nil) }
                settlement.settle()
            }
            try Self.configureConnection(
                channel,
                router: self.router,
                idleTimeout: self.options.idleTimeout,
                stallTimeout: self.options.stallTimeout,
                answersHere: !overLimit,
                handOff: overLimit ? nil : handOff
            )
            if overLimit { try handOff(channel) }
        }
    }

    /// Sets up a connection's pipeline on its event loop: the status fast path (`StatusFastPath`, not on a
    /// connection over the limit), NIO's HTTP codec (with pipelining and error handling), then the front handler.
    /// Shared with the fuzz harness, so it drives the same pipeline. `handOff` runs on the event loop before the
    /// first request the front handler passes on, to start the connection's task.
    public static func configureConnection(
        _ channel: Channel,
        router: ControlRouter,
        idleTimeout: Double,
        stallTimeout: Double = 60,
        answersHere: Bool,
        handOff: (@Sendable (Channel) throws -> Void)? = nil
    ) throws {
        if answersHere { try channel.pipeline.syncOperations.addHandler(StatusFastPath(router: router)) }
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
        try channel.pipeline.syncOperations.addHandler(
            ConnectionFrontHandler(
                router: router,
                idleTimeout: .nanoseconds(Int64(idleTimeout * 1e9)),
                stallTimeout: .nanoseconds(Int64(stallTimeout * 1e9)),
                answersHere: answersHere,
                handOff: handOff
            )
        )
    }

    /// Serves the requests the front handler passes on (everything but status), one at a time, in order.
    /// (Leaving `executeThenClose` closes the channel; the front handler holds that close back until the response
    /// has reached the socket.)
    private func serve(_ accepted: Accepted) async {
        let channel = accepted.connection.channel
        do {
            try await accepted.connection.executeThenClose { inbound, outbound in
                if accepted.overLimit {
                    router.stats.recordRejected()
                    try await write(
                        .error(.unavailable, "too many connections (limit \(options.maxConnections)); retry shortly"),
                        to: outbound,
                        keepAlive: false
                    )
                    return
                }
                var head: HTTPRequestHead?
                var body: [UInt8] = []
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead):
                        head = requestHead
                        body = []
                        // Refused before the body arrives: a client that declared too much may wait for an answer
                        // before sending it (Expect: 100-continue), or send it slowly; either way it learns why now.
                        if let declared = requestHead.headers.first(name: "content-length"), Self.exceedsLimit(declared)
                        {
                            try await refuseTooLarge(declared: declared, to: outbound)
                            return
                        }
                    case .body(var buffer):
                        if body.count + buffer.readableBytes > API.maxRequestBytes {
                            try await refuseTooLarge(declared: nil, to: outbound)
                            return
                        }
                        if let bytes = buffer.readBytes(length: buffer.readableBytes) { body += bytes }
                    case .end:
                        guard let requestHead = head else { return }
                        let request = ControlRequest(
                            method: requestHead.method.rawValue,
                            uri: requestHead.uri,
                            body: body,
                            peer: accepted.peer,
                            actor: requestHead.headers.first(name: "X-Heidi-Actor")
                        )
                        let started = MonotonicClock.nanoseconds()
                        let response = await router.route(request)
                        let keepAlive = requestHead.isKeepAlive
                        try await write(response, to: outbound, keepAlive: keepAlive, channel: channel)
                        if case .bytes = response.body {
                            router.stats.record(seconds: Double(MonotonicClock.nanoseconds() - started) / 1e9)
                        }
                        if !keepAlive { return }
                        head = nil
                    }
                }
            }
        } catch {
            logger.debug("control connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// Whether a declared `Content-Length` is over `API.maxRequestBytes` (a number too long for an Int is too).
    static func exceedsLimit(_ declared: String) -> Bool {
        guard let length = Int(declared) else {
            return declared.utf8.count > 18 && declared.utf8.allSatisfy { (48...57).contains($0) }
        }
        return length > API.maxRequestBytes
    }

    /// Answers 413 with the JSON error body at once; the caller then closes the connection without reading the rest.
    private func refuseTooLarge(
        declared: String?,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        let size = declared.map { "Content-Length \($0) is over" } ?? "the body grew over"
        try await write(
            .error(.tooLarge, "request too large: \(size) the limit of \(API.maxRequestBytes) bytes"),
            to: outbound,
            keepAlive: false
        )
    }

    private func write(
        _ response: ControlResponse,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        keepAlive: Bool,
        channel: Channel? = nil
    ) async throws {
        switch response.body {
        case .bytes(let bytes):
            // One hand-over to the event loop, not three: each could suspend this task behind every other client's.
            try await outbound.write(contentsOf: response.parts(keepAlive: keepAlive, bytes: bytes))
        case .stream(let chunks):
            // No length: NIOHTTP1 uses chunked transfer encoding. Each write waits while the channel is not
            // writable, so the stream is pulled at the client's pace. Ends when the stream ends (then the
            // trailers, if any) or the client leaves (the stream is cancelled, so a quiet follower ends too).
            try await outbound.write(.head(response.head(keepAlive: keepAlive)))
            let writer = Task {
                for await chunk in chunks {
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: chunk))))
                    // The writer hands chunks to the event loop without waiting, and learns that the channel is
                    // full only after the loop has run them: wait for that, so the stream is pulled no faster
                    // than the socket drains (else a fast file read ran megabytes ahead of a slow reader).
                    try await channel?.eventLoop.submit {}.get()
                }
                try Task.checkCancellation()
            }
            channel?.closeFuture.whenComplete { _ in writer.cancel() }
            try await withTaskCancellationHandler {
                try await writer.value
            } onCancel: {
                writer.cancel()
            }
            let trailers = await response.trailers?() ?? []
            try await outbound.write(.end(trailers.isEmpty ? nil : HTTPHeaders(trailers)))
        }
    }
}

extension ControlResponse {
    /// The response head: content type, server, API version, extra headers, keep-alive, and the length of a byte body.
    func head(keepAlive: Bool) -> HTTPResponseHead {
        var fields = HTTPHeaders()
        fields.add(name: "Content-Type", value: contentType)
        fields.add(name: "Server", value: "heidid")
        fields.add(name: "X-Heidi-API", value: String(API.version))
        for (name, value) in headers { fields.add(name: name, value: value) }
        fields.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        if case .bytes(let bytes) = body { fields.add(name: "Content-Length", value: String(bytes.count)) }
        return HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: fields)
    }

    /// The whole response when the body is `bytes`: head, body, end.
    func parts(keepAlive: Bool, bytes: [UInt8]) -> [HTTPServerResponsePart] {
        [.head(head(keepAlive: keepAlive)), .body(.byteBuffer(ByteBuffer(bytes: bytes))), .end(nil)]
    }
}

extension NIOAsyncChannel {
    /// Wraps a connection for its task so that, if it is dropped without being served, it is closed instead of
    /// crashing the daemon. A connection handed over after a shutdown's bound has ended the stream of hand-overs
    /// (`ControlServer.run`) is dropped; the non-deprecated initializer's writer would then stop the process in
    /// its deinit ("Deinited NIOAsyncWriter without calling finish()": reproduced in 3 of 15 SIGTERMs under
    /// connection load, when connections were wrapped at accept). Served connections still go through
    /// `executeThenClose`. NIO marks this initializer deprecated (it prefers explicit teardown); the one build
    /// warning it causes is deliberate.
    static func closingOnDeinit(_ channel: Channel) throws -> NIOAsyncChannel {
        try NIOAsyncChannel(synchronouslyWrapping: channel)
    }
}
