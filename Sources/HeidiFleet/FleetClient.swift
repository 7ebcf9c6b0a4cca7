import HeidiCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Why a request to the dashboard failed; names the dashboard.
public struct FleetClientError: Error, Sendable, CustomStringConvertible {
    public var endpoint: String
    public var reason: String
    public var description: String { "dashboard \(endpoint): \(reason)" }
}

/// An answer from the dashboard.
public struct FleetAnswer: Sendable {
    public var status: Int
    public var body: [UInt8]
}

/// The worker's HTTP/1.1 client for the dashboard: TLS with the certificate pinned or checked against a CA, one
/// connection per request, every request bounded in time (a partitioned link fails it, it never hangs).
public struct FleetClient: Sendable {
    public let endpoint: FleetEndpoint
    let authorization: String
    let tls: NIOSSLContext?
    let group: any EventLoopGroup
    /// Largest answer read (batch replies and task lists are small).
    static let maxAnswer = 4 << 20

    public init(
        endpoint: FleetEndpoint,
        authorization: String,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    )
        throws(FleetConfigError)
    {
        self.endpoint = endpoint
        self.authorization = authorization
        self.group = group
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        switch endpoint.trust {
        case .plaintext:
            tls = nil
            return
        case .pinned:
            // The pin replaces chain and name checks (customVerificationCallback); TLS still proves the key.
            configuration.certificateVerification = .noHostnameVerification
        case .authority(let file):
            configuration.trustRoots = .file(file)
            configuration.certificateVerification =
                Self.isAddress(endpoint.host) ? .noHostnameVerification : .fullVerification
        case .system:
            configuration.certificateVerification = .fullVerification
        }
        do { tls = try NIOSSLContext(configuration: configuration) } catch {
            throw FleetConfigError(key: "web.dashboard", message: "TLS configuration refused: \(error)")
        }
    }

    static func isAddress(_ host: String) -> Bool {
        host.contains(":")
            || host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil }
    }

    var name: String { "\(endpoint.trust == .plaintext ? "http" : "https")://\(endpoint.host):\(endpoint.port)" }

    /// One request; `timeout` bounds connect, TLS handshake, sending and the whole answer.
    public func send(
        _ method: String,
        _ target: String,
        headers: [(String, String)] = [],
        body: [UInt8] = [],
        timeout: Double = 10
    )
        async throws(FleetClientError) -> FleetAnswer
    {
        do {
            return try await withThrowingTaskGroup(of: FleetAnswer.self) { group in
                group.addTask { try await self.exchange(method, target, headers: headers, body: body) }
                group.addTask {
                    try await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
                    throw FleetClientError(
                        endpoint: name,
                        reason: "no answer to \(method) \(target) within \(timeout) s"
                    )
                }
                guard let first = try await group.next() else {
                    throw FleetClientError(endpoint: name, reason: "no answer")
                }
                group.cancelAll()
                return first
            }
        } catch let error as FleetClientError {
            throw error
        } catch {
            throw FleetClientError(endpoint: name, reason: "\(error)")
        }
    }

    private func exchange(
        _ method: String,
        _ target: String,
        headers extra: [(String, String)],
        body: [UInt8]
    ) async throws -> FleetAnswer {
        let tls = tls
        let trust = endpoint.trust
        let host = endpoint.host
        let sni = Self.isAddress(host) ? nil : host
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .connect(host: host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls {
                        if case .pinned(let pin) = trust {
                            try sync.addHandler(
                                NIOSSLClientHandler(context: tls, serverHostname: sni) { certificates, promise in
                                    promise.succeed(
                                        Self.matches(certificates.first, pin: pin) ? .certificateVerified : .failed
                                    )
                                }
                            )
                        } else {
                            try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: sni))
                        }
                    }
                    try sync.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel
                    )
                }
            }
        var headers = HTTPHeaders([
            ("Host", host.contains(":") ? "[\(host)]:\(endpoint.port)" : "\(host):\(endpoint.port)"),
            ("User-Agent", "heidi-web fleet"), ("Connection", "close"), ("Authorization", authorization),
        ])
        for (name, value) in extra { headers.add(name: name, value: value) }
        if method == "POST" {
            headers.add(name: "Content-Length", value: String(body.count))
            headers.add(name: "Content-Type", value: "application/octet-stream")
        }
        let head = HTTPRequestHead(
            version: .http1_1,
            method: HTTPMethod(rawValue: method),
            uri: target,
            headers: headers
        )
        return try await channel.executeThenClose { inbound, outbound in
            var parts: [HTTPClientRequestPart] = [.head(head)]
            if !body.isEmpty { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
            parts.append(.end(nil))
            try await outbound.write(contentsOf: parts)
            var status = 0
            var answer: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let response): status = Int(response.status.code)
                case .body(let buffer):
                    answer += buffer.readableBytesView
                    if answer.count > Self.maxAnswer {
                        throw FleetClientError(endpoint: name, reason: "answer over \(Self.maxAnswer) bytes")
                    }
                case .end: return FleetAnswer(status: status, body: answer)
                }
            }
            throw FleetClientError(
                endpoint: name,
                reason: "connection closed before the answer to \(method) \(target) ended"
            )
        }
    }

    /// Whether the peer's certificate has the pinned SHA-256.
    static func matches(_ certificate: NIOSSLCertificate?, pin: String) -> Bool {
        guard let der = try? certificate?.toDERBytes() else { return false }
        return SHA256.hex(der) == pin
    }
}
