import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// Why the server could not start; names the file or address.
public struct WebServerError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// heidi-web's TCP listener: TLS (when configured), HTTP/1.1, and the WebSocket upgrade of `/api/v1/ws`.
public final class WebServer: Sendable {
    let settings: WebSettings
    let makeRouter: @Sendable (WebSettings) -> WebRouter
    let group: any EventLoopGroup
    /// Set once bound: the router is made with the port actually bound (`:0` asks for any), which the Host
    /// allowlist needs. Connections accepted before that are closed.
    private let router = NIOLockedValueBox<WebRouter?>(nil)
    /// Largest request body read (logins and action bodies are small).
    static let maxBody = 64 * 1024

    /// The body limit for a request target: workers' journal batches (`/fleet/v1/`) are larger.
    static func maxBody(uri: String) -> Int { uri.hasPrefix("/fleet/v1/") ? FleetRoutes.maxBatch : maxBody }

    public init(
        settings: WebSettings,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        makeRouter: @escaping @Sendable (WebSettings) -> WebRouter
    ) {
        self.settings = settings
        self.makeRouter = makeRouter
        self.group = group
    }

    /// The TLS context from the configured PEM files; names the file that could not be loaded.
    static func tlsContext(_ files: TLSFiles) throws(WebServerError) -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(files.certificate) } catch {
            throw WebServerError(
                description: "cannot load the TLS certificate \(files.certificate) (tls_cert): \(error)"
            )
        }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: files.key, format: .pem) } catch {
            throw WebServerError(description: "cannot load the TLS key \(files.key) (tls_key): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        do { return try NIOSSLContext(configuration: configuration) } catch {
            throw WebServerError(
                description: "TLS configuration from \(files.certificate) and \(files.key) refused: \(error)"
            )
        }
    }

    /// Binds; returns the listening channel and the settings with the bound port.
    public func start() async throws -> (channel: any Channel, settings: WebSettings) {
        let tls = try settings.tls.map { files throws(WebServerError) in try Self.tlsContext(files) }
        let routerBox = router
        let isTLS = tls != nil
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelInitializer { channel in
                guard let router = routerBox.withLockedValue({ $0 }) else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
                    let upgrader = NIOWebSocketServerUpgrader(
                        maxFrameSize: 1 << 16,
                        shouldUpgrade: { channel, head in
                            let request = WebRequest(head: head, remote: channel.remoteAddress, isTLS: isTLS)
                            return channel.eventLoop.makeSucceededFuture(
                                WebSocketSession.accepts(request, router: router) ? HTTPHeaders() : nil
                            )
                        },
                        upgradePipelineHandler: { channel, head in
                            let request = WebRequest(head: head, remote: channel.remoteAddress, isTLS: isTLS)
                            return channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(
                                    WebSocketSession(router: router, request: request)
                                )
                            }
                        }
                    )
                    let handler = HTTPHandler(router: router, isTLS: isTLS)
                    try sync.configureHTTPServerPipeline(
                        withServerUpgrade: (
                            upgraders: [upgrader],
                            completionHandler: { context in
                                context.pipeline.syncOperations.removeHandler(handler, promise: nil)
                            }
                        )
                    )
                    try sync.addHandler(handler)
                }
            }
            .bind(host: settings.listen.host, port: settings.listen.port)
            .get()
        var bound = settings
        bound.listen.port = channel.localAddress?.port ?? settings.listen.port
        let made = makeRouter(bound)
        routerBox.withLockedValue { $0 = made }
        return (channel, bound)
    }
}

extension WebRequest {
    init(head: HTTPRequestHead, body: [UInt8] = [], remote: SocketAddress?, isTLS: Bool) {
        self.init(
            method: head.method.rawValue,
            uri: head.uri,
            headers: head.headers.map { ($0.name, $0.value) },
            body: body,
            remoteAddress: remote?.ipAddress ?? "unknown",
            isTLS: isTLS
        )
    }
}
