import HeidiAPI
import NIOCore
import NIOHTTP1
import NIOPosix

/// An answer from heidid.
public struct UpstreamReply: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
}

/// A streamed answer from heidid: status, headers, then body chunks until heidid or the consumer ends it.
public struct UpstreamStream: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var chunks: AsyncStream<[UInt8]>
}

/// Why heidid could not be asked; names the socket.
public struct UpstreamError: Error, Sendable, CustomStringConvertible {
    public var socketPath: String
    public var reason: String
    public var description: String { "heidid's control socket \(socketPath): \(reason)" }
}

/// What heidi-web needs from heidid (the control socket in production, a fake in tests).
public protocol HeidiUpstream: Sendable {
    /// A complete request; `actor` is sent as `X-Heidi-Actor` (heidid journals it with actions).
    func request(
        _ method: String,
        _ target: String,
        body: [UInt8],
        actor: String?
    ) async throws(UpstreamError) -> UpstreamReply
    /// A followed GET (`events?follow=1`, `logs?follow=1`).
    func stream(_ target: String) async throws(UpstreamError) -> UpstreamStream
}

/// heidid's control socket: HTTP/1.1 over `AF_UNIX`, one connection per request (like heidictl).
public struct ControlSocketUpstream: HeidiUpstream {
    public let socketPath: String
    let group: any EventLoopGroup
    /// Largest complete answer read (status, metrics, a log tail); streams are unbounded but consumed as they come.
    static let maxBody = 16 * 1024 * 1024

    public init(socketPath: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.socketPath = socketPath
        self.group = group
    }

    public func request(
        _ method: String,
        _ target: String,
        body: [UInt8],
        actor: String?
    ) async throws(UpstreamError) -> UpstreamReply {
        let opened = try await open(method, target, body: body, actor: actor)
        var bytes: [UInt8] = []
        for await chunk in opened.chunks {
            bytes += chunk
            if bytes.count > Self.maxBody {
                throw UpstreamError(socketPath: socketPath, reason: "answer to \(target) over \(Self.maxBody) bytes")
            }
        }
        return UpstreamReply(status: opened.status, headers: opened.headers, body: bytes)
    }

    public func stream(_ target: String) async throws(UpstreamError) -> UpstreamStream {
        try await open("GET", target, body: [], actor: nil)
    }

    private func open(
        _ method: String,
        _ target: String,
        body: [UInt8],
        actor: String?
    ) async throws(UpstreamError) -> UpstreamStream {
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: group).connect(unixDomainSocketPath: socketPath) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel
                    )
                }
            }
        } catch {
            throw UpstreamError(socketPath: socketPath, reason: "cannot connect (\(error)); is heidid running?")
        }
        var headers = HTTPHeaders([("Host", "localhost"), ("User-Agent", "heidi-web"), ("Connection", "close")])
        if method == "POST" {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.count))
        }
        if let actor {
            headers.add(
                name: "X-Heidi-Actor",
                value: String(
                    actor.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7f }.map(Character.init).prefix(200)
                )
            )
        }
        let head = HTTPRequestHead(
            version: .http1_1,
            method: HTTPMethod(rawValue: method),
            uri: target,
            headers: headers
        )
        let (headStream, headContinuation) = AsyncStream.makeStream(
            of: Result<(Int, [(String, String)]), UpstreamError>.self
        )
        let (chunks, continuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingOldest(4096))
        let socketPath = socketPath
        let task = Task {
            defer {
                continuation.finish()
                headContinuation.finish()
            }
            do {
                try await channel.executeThenClose { inbound, outbound in
                    // The whole request in one write: heidid may answer (and close) as soon as it has the head, and a
                    // second write to a closed channel would fail the request whose answer is on its way.
                    var request: [HTTPClientRequestPart] = [.head(head)]
                    if !body.isEmpty { request.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                    request.append(.end(nil))
                    try await outbound.write(contentsOf: request)
                    for try await part in inbound {
                        switch part {
                        case .head(let response):
                            headContinuation.yield(
                                .success((Int(response.status.code), response.headers.map { ($0.name, $0.value) }))
                            )
                            headContinuation.finish()
                        case .body(let buffer):
                            // Backpressure: wait while the consumer is 4096 chunks behind, never drop.
                            while case .dropped = continuation.yield(Array(buffer.readableBytesView)) {
                                await LoopSleep.sleep(nanoseconds: 10_000_000)
                                try Task.checkCancellation()
                            }
                        case .end:
                            return
                        }
                    }
                }
            } catch {
                headContinuation.yield(.failure(UpstreamError(socketPath: socketPath, reason: "\(error)")))
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        for await result in headStream {
            switch result {
            case .success(let (status, headers)):
                return UpstreamStream(status: status, headers: headers, chunks: chunks)
            case .failure(let error): throw error
            }
        }
        task.cancel()
        throw UpstreamError(socketPath: socketPath, reason: "connection closed before an answer to \(method) \(target)")
    }
}
