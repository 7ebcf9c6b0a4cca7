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
    let router: WebRouter
    let settings: WebSettings
    let group: any EventLoopGroup
    /// Largest request body read (logins and action bodies are small).
    static let maxBody = 64 * 1024

    public init(router: WebRouter, settings: WebSettings, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.router = router
        self.settings = settings
        self.group = group
    }

    /// The TLS context from the configured PEM files; names the file that could not be loaded.
    static func tlsContext(_ files: TLSFiles) throws(WebServerError) -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(files.certificate) } catch {
            throw WebServerError(description: "cannot load the TLS certificate \(files.certificate) (tls_cert): \(error)")
        }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: files.key, format: .pem) } catch {
            throw WebServerError(description: "cannot load the TLS key \(files.key) (tls_key): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do { return try NIOSSLContext(configuration: configuration) } catch {
            throw WebServerError(description: "TLS configuration from \(files.certificate) and \(files.key) refused: \(error)")
        }
    }

    /// Binds and returns the listening channel (its local address tells the port when 0 was asked for).
    public func start() async throws -> any Channel {
        let tls = try settings.tls.map { files throws(WebServerError) in try Self.tlsContext(files) }
        let router = router
        let isTLS = tls != nil
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
                    let upgrader = NIOWebSocketServerUpgrader(
                        maxFrameSize: 1 << 16,
                        shouldUpgrade: { channel, head in
                            let request = WebRequest(head: head, remote: channel.remoteAddress, isTLS: isTLS)
                            return channel.eventLoop.makeSucceededFuture(WebSocketSession.accepts(request, router: router) ? HTTPHeaders() : nil)
                        },
                        upgradePipelineHandler: { channel, head in
                            let request = WebRequest(head: head, remote: channel.remoteAddress, isTLS: isTLS)
                            return channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(WebSocketSession(router: router, request: request))
                            }
                        }
                    )
                    let handler = HTTPHandler(router: router, isTLS: isTLS)
                    try sync.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                            context.pipeline.syncOperations.removeHandler(handler, promise: nil)
                        })
                    )
                    try sync.addHandler(handler)
                }
            }
            .bind(host: settings.listen.host, port: settings.listen.port)
            .get()
    }
}

extension WebRequest {
    init(head: HTTPRequestHead, body: [UInt8] = [], remote: SocketAddress?, isTLS: Bool) {
        self.init(method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) }, body: body,
                  remoteAddress: remote?.ipAddress ?? "unknown", isTLS: isTLS)
    }
}
