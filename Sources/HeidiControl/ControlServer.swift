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
/// answered on the connection's event loop (`ConnectionFrontHandler`); every other request is served by the
/// connection's task. Requests over 64 KiB get 413, idle connections are closed, and more than `maxConnections` at
/// once get 503. Nothing a client sends reaches the engine unless it parses. A graceful shutdown stops accepting,
/// answers every connection already accepted, and leaves the rest in the socket's backlog (`AcceptDrain`).
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

    /// An accepted connection, ready for its task.
    struct Accepted: Sendable {
        var connection: Connection
        var peer: PeerCredentials
        var overLimit: Bool
    }

    public func run() async throws {
        let drain = AcceptDrain()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(StopAcceptingHandler(drain: drain))
                }
            }
        let initializer: @Sendable (Channel) -> EventLoopFuture<Accepted> = { channel in
            let credentials: EventLoopFuture<UCred>
            if let provider = channel as? SocketOptionProvider {
                credentials = provider.unsafeGetSocketOption(
                    level: SocketOptionLevel(SOL_SOCKET),
                    name: SocketOptionName(SO_PEERCRED)
                )
            } else {
                credentials = channel.eventLoop.makeSucceededFuture(UCred(pid: 0, uid: UInt32.max, gid: UInt32.max))
            }
            // Counted from accept to close; over the limit, the connection's task answers 503 and closes it.
            let active = self.connections.wrappingAdd(1, ordering: .relaxed).newValue
            channel.closeFuture.whenComplete { _ in self.connections.wrappingSubtract(1, ordering: .relaxed) }
            let overLimit = active > self.options.maxConnections
            let ready = credentials.flatMapThrowing { cred in
                try Self.configureConnection(
                    channel,
                    router: self.router,
                    idleTimeout: self.options.idleTimeout,
                    stallTimeout: self.options.stallTimeout,
                    answersHere: !overLimit
                )
                let connection = try Connection.closingOnDeinit(channel)
                return Accepted(
                    connection: connection,
                    peer: PeerCredentials(pid: cred.pid, uid: cred.uid, gid: cred.gid),
                    overLimit: overLimit
                )
            }
            // NIO drops a connection whose initializer failed; it will not reach the task, so it is settled here.
            ready.whenFailure { _ in drain.settled() }
            return ready
        }
        let server: NIOAsyncChannel<Accepted, Never>
        if let activatedDescriptor {
            server = try await bootstrap.bind(activatedDescriptor, childChannelInitializer: initializer)
            logger.info("control socket taken from systemd (socket activation)", metadata: ["socket": "\(socketPath)"])
        } else {
            try ListeningSocket.prepare(socketPath)
            // Bind under a temporary name, set group and mode, then rename into place: the socket never exists
            // at its public path with the wrong owner or mode.
            let staging = ListeningSocket.stagingPath(for: socketPath)
            server = try await bootstrap.bind(
                unixDomainSocketPath: staging,
                cleanupExistingSocketFile: true,
                childChannelInitializer: initializer
            )
            try ListeningSocket.publish(staging, at: socketPath, group: socketGroup)
            logger.info("control socket listening", metadata: ["socket": "\(socketPath)"])
        }
        await onListening()
        defer {
            // Never unlink a socket systemd owns: it keeps queueing requests across restarts.
            if activatedDescriptor == nil { unlink(socketPath) }
        }
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await accepted in inbound {
                        drain.settled()
                        group.addTask { await self.serve(accepted) }
                    }
                }
            }
        } onGracefulShutdown: {
            // Closing the listening channel at once dropped the connections accepted but not yet set up, unread
            // (a reset for their clients; see `AcceptDrain`). Stop accepting first, close once every accepted
            // connection has reached its task (which serves it to its end); the rest wait in the backlog.
            let channel = server.channel
            channel.eventLoop.execute {
                // Auto-read off unregisters the listening socket from the event loop: nothing more is accepted,
                // so the count of accepted connections is final before the drain starts.
                _ = try? channel.syncOptions?.setOption(.autoRead, value: false)
                drain.drain { channel.close(promise: nil) }
            }
            // Bounded: an initializer that never completes must not hold the shutdown up forever.
            let bound = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(self.options.idleTimeout * 1e9))) {
                channel.close(promise: nil)
            }
            channel.closeFuture.whenComplete { _ in bound.cancel() }
        }
    }

    /// Sets up a connection's pipeline on its event loop: NIO's HTTP codec (with pipelining and error handling),
    /// then the front handler. Shared with the fuzz harness, so it drives the same pipeline.
    public static func configureConnection(
        _ channel: Channel,
        router: ControlRouter,
        idleTimeout: Double,
        stallTimeout: Double = 60,
        answersHere: Bool
    ) throws {
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
        try channel.pipeline.syncOperations.addHandler(
            ConnectionFrontHandler(
                router: router,
                idleTimeout: .nanoseconds(Int64(idleTimeout * 1e9)),
                stallTimeout: .nanoseconds(Int64(stallTimeout * 1e9)),
                answersHere: answersHere
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
    /// Wraps an accepted connection so that, if it is dropped without being served, it is closed instead of
    /// crashing the daemon. A connection accepted while heidid shuts down could complete its channel initializer
    /// after the server's inbound stream had finished (`AcceptDrain` now waits for it, up to a bound, so this is
    /// the fallback when the bound expires); NIO then drops it, and the non-deprecated initializer's
    /// writer stops the process in its deinit ("Deinited NIOAsyncWriter without calling finish()": reproduced in
    /// 3 of 15 SIGTERMs under connection load). Served connections still go through `executeThenClose`. NIO marks
    /// this initializer deprecated (it prefers explicit teardown); the one build warning it causes is deliberate.
    static func closingOnDeinit(_ channel: Channel) throws -> NIOAsyncChannel {
        try NIOAsyncChannel(synchronouslyWrapping: channel)
    }
}
