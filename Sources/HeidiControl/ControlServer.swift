#if canImport(Glibc)
import Glibc
#endif
import HeidiAPI
import HeidiCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The HTTP/1.1 control server on a Unix socket (SPEC §5), as a ServiceLifecycle service.
///
/// Binds `socketPath` itself, or takes a socket-activated descriptor (which it never unlinks). Each connection is
/// served by one task; requests over 64 KiB get 413, idle connections are closed, and more than `maxConnections`
/// at once get 503. Nothing a client sends reaches the engine unless it parses.
public final class ControlServer: Service, Sendable {
    public struct Options: Sendable {
        /// Enough for a thousand polling clients at once (heidid raises its descriptor limit to match).
        public var maxConnections = 2048
        /// A request must arrive complete within this many seconds of the connection opening or the last response.
        public var idleTimeout: Double = 10
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
        socketPath: String, activatedDescriptor: Int32?, router: ControlRouter, socketGroup: UInt32?, logger: Logger,
        options: Options = Options(), onListening: @escaping @Sendable () async -> Void
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

    public func run() async throws {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 4096)
        let initializer: @Sendable (Channel) -> EventLoopFuture<(Connection, PeerCredentials)> = { channel in
            let credentials: EventLoopFuture<UCred>
            if let provider = channel as? SocketOptionProvider {
                credentials = provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
            } else {
                credentials = channel.eventLoop.makeSucceededFuture(UCred(pid: 0, uid: UInt32.max, gid: UInt32.max))
            }
            return credentials.flatMapThrowing { cred in
                try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                let connection = try Connection.closingOnDeinit(channel)
                return (connection, PeerCredentials(pid: cred.pid, uid: cred.uid, gid: cred.gid))
            }
        }
        let server: NIOAsyncChannel<(Connection, PeerCredentials), Never>
        if let activatedDescriptor {
            server = try await bootstrap.bind(activatedDescriptor, childChannelInitializer: initializer)
            logger.info("control socket taken from systemd (socket activation)", metadata: ["socket": "\(socketPath)"])
        } else {
            try ListeningSocket.prepare(socketPath)
            // Bind under a temporary name, set group and mode, then rename into place: the socket never exists
            // at its public path with the wrong owner or mode.
            let staging = ListeningSocket.stagingPath(for: socketPath)
            server = try await bootstrap.bind(unixDomainSocketPath: staging, cleanupExistingSocketFile: true,
                                              childChannelInitializer: initializer)
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
                    for try await (connection, peer) in inbound {
                        group.addTask { await self.serve(connection, peer: peer) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    private func serve(_ connection: Connection, peer: PeerCredentials) async {
        let active = connections.wrappingAdd(1, ordering: .relaxed).newValue
        defer { connections.wrappingSubtract(1, ordering: .relaxed) }
        let channel = connection.channel
        do {
            try await connection.executeThenClose { inbound, outbound in
                if active > options.maxConnections {
                    router.stats.recordRejected()
                    try await write(.error(.unavailable, "too many connections (limit \(options.maxConnections)); retry shortly"),
                                    to: outbound, keepAlive: false)
                    return
                }
                var watchdog = idleWatchdog(channel)
                defer { watchdog.cancel() }
                var head: HTTPRequestHead?
                var body: [UInt8] = []
                var tooLarge = false
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead):
                        head = requestHead
                        body = []
                        tooLarge = false
                        if let length = requestHead.headers.first(name: "content-length").flatMap(Int.init), length > API.maxRequestBytes {
                            tooLarge = true
                        }
                    case .body(var buffer):
                        if body.count + buffer.readableBytes > API.maxRequestBytes { tooLarge = true }
                        if !tooLarge, let bytes = buffer.readBytes(length: buffer.readableBytes) { body += bytes }
                    case .end:
                        guard let requestHead = head else { return }
                        watchdog.cancel()
                        if tooLarge {
                            try await write(.error(.tooLarge, "request larger than \(API.maxRequestBytes) bytes"), to: outbound, keepAlive: false)
                            return
                        }
                        let request = ControlRequest(method: requestHead.method.rawValue, uri: requestHead.uri, body: body, peer: peer)
                        let started = MonotonicClock.nanoseconds()
                        let response = await router.route(request)
                        let keepAlive = requestHead.isKeepAlive
                        try await write(response, to: outbound, keepAlive: keepAlive)
                        if case .bytes = response.body {
                            router.stats.record(seconds: Double(MonotonicClock.nanoseconds() - started) / 1e9)
                        }
                        if !keepAlive { return }
                        head = nil
                        watchdog = idleWatchdog(channel)
                    }
                }
            }
        } catch {
            logger.debug("control connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// Closes the connection unless the watchdog is cancelled first (slow or idle clients).
    private func idleWatchdog(_ channel: Channel) -> Task<Void, Never> {
        let seconds = options.idleTimeout
        return Task {
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            if !Task.isCancelled { channel.close(promise: nil) }
        }
    }

    private func write(
        _ response: ControlResponse, to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, keepAlive: Bool
    ) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Server", value: "heidid")
        headers.add(name: "X-Heidi-API", value: String(API.version))
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let status = HTTPResponseStatus(statusCode: response.status)
        switch response.body {
        case .bytes(let bytes):
            headers.add(name: "Content-Length", value: String(bytes.count))
            // One hand-over to the event loop, not three: each could suspend this task behind every other client's.
            try await outbound.write(contentsOf: [
                .head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)),
                .body(.byteBuffer(ByteBuffer(bytes: bytes))), .end(nil),
            ])
        case .stream(let chunks):
            // No length: NIOHTTP1 uses chunked transfer encoding. Ends when the stream ends or the client leaves.
            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)))
            for await chunk in chunks {
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: chunk))))
            }
            try await outbound.write(.end(nil))
        }
    }
}

extension NIOAsyncChannel {
    /// Wraps an accepted connection so that, if it is dropped without being served, it is closed instead of
    /// crashing the daemon. A connection accepted while heidid shuts down can complete its channel initializer
    /// after the server's inbound stream has finished; NIO then drops it, and the non-deprecated initializer's
    /// writer stops the process in its deinit ("Deinited NIOAsyncWriter without calling finish()": reproduced in
    /// 3 of 15 SIGTERMs under connection load). Served connections still go through `executeThenClose`. NIO marks
    /// this initializer deprecated (it prefers explicit teardown); the one build warning it causes is deliberate.
    static func closingOnDeinit(_ channel: Channel) throws -> NIOAsyncChannel {
        try NIOAsyncChannel(synchronouslyWrapping: channel)
    }
}
