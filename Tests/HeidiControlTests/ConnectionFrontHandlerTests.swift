import HeidiControl
import HeidiFuzzing
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Synchronization
import Testing

/// The connection pipeline on an embedded channel: what is answered on the event loop, what reaches the task, in
/// which order, and when idle or slow connections are closed.
@Suite("Connection front handler")
struct ConnectionFrontHandlerTests {
    static let status = "GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n"
    static let metrics = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"

    func connection(answersHere: Bool = true, idleTimeout: Double = 10) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let router = ControlRouter(backend: StaticBackend(), authorizer: Authorizer(daemonUID: 1000, groupName: nil))
        try ControlServer.configureConnection(
            channel,
            router: router,
            idleTimeout: idleTimeout,
            answersHere: answersHere
        )
        try channel.connect(to: SocketAddress(unixDomainSocketPath: "/heidi-test.sock")).wait()
        return channel
    }

    /// Everything the pipeline has written to the socket so far.
    func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let data = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let buffer) = data { text += String(buffer: buffer) }
        }
        return text
    }

    /// The request heads passed on to the connection's task.
    func passedOn(_ channel: EmbeddedChannel) throws -> [String] {
        var uris: [String] = []
        while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
            if case .head(let head) = part { uris.append(head.uri) }
        }
        return uris
    }

    @Test func statusIsAnsweredInThePipelineAndNothingReachesTheTask() throws {
        let channel = try connection()
        try channel.writeInbound(ByteBuffer(string: Self.status))
        let response = try written(channel)
        #expect(
            response.hasPrefix("HTTP/1.1 200 OK") && response.contains("X-Heidi-API: 1")
                && response.contains("\"journal\"")
        )
        #expect(try passedOn(channel).isEmpty)
        #expect(channel.isActive, "keep-alive")
    }

    @Test func pipelinedStatusRequestsAreAllAnsweredInOrder() throws {
        let channel = try connection()
        let last = "GET /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        try channel.writeInbound(ByteBuffer(string: Self.status + Self.status + last))
        let responses = try written(channel)
        #expect(responses.components(separatedBy: "HTTP/1.1 200 OK").count == 4, "three responses")
        #expect(responses.components(separatedBy: "Connection: keep-alive").count == 3)
        #expect(responses.hasSuffix("\n") && responses.contains("Connection: close"))
        #expect(try passedOn(channel).isEmpty)
        #expect(!channel.isActive, "closed after the request that asked for it")
    }

    @Test func otherRequestsAndStatusOverTheLimitGoToTheTask() throws {
        let channel = try connection()
        try channel.writeInbound(ByteBuffer(string: Self.metrics))
        #expect(try passedOn(channel) == ["/metrics"])
        #expect(try written(channel).isEmpty)

        let overLimit = try connection(answersHere: false)
        try overLimit.writeInbound(ByteBuffer(string: Self.status))
        #expect(try passedOn(overLimit) == ["/api/v1/status"], "the task answers 503 there")
    }

    /// Stands in for the connection's task, which `handOff` joins to the pipeline: the request heads it receives.
    final class TaskStandIn: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        let uris = Mutex<[String]>([])
        let starts = Atomic<Int>(0)

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head(let head) = unwrapInboundIn(data) { uris.withLock { $0.append(head.uri) } }
        }
    }

    /// The server starts a connection's task only when a request needs the router (a task per connection, started
    /// at accept, cost every `heidictl status` two or three thread wake-ups): status connections get none, and the
    /// first other request starts it once, in time to receive that request.
    @Test func theTaskIsStartedByTheFirstRequestPassedOnAndOnlyThen() throws {
        let shared = TaskStandIn()
        let channel = EmbeddedChannel()
        let router = ControlRouter(backend: StaticBackend(), authorizer: Authorizer(daemonUID: 1000, groupName: nil))
        try ControlServer.configureConnection(channel, router: router, idleTimeout: 10, answersHere: true) { channel in
            shared.starts.add(1, ordering: .relaxed)
            try channel.pipeline.syncOperations.addHandler(shared)
        }
        try channel.connect(to: SocketAddress(unixDomainSocketPath: "/heidi-test.sock")).wait()
        try channel.writeInbound(ByteBuffer(string: Self.status + Self.status))
        #expect(try written(channel).components(separatedBy: "HTTP/1.1 200 OK").count == 3)
        #expect(shared.starts.load(ordering: .relaxed) == 0, "status alone starts no task")
        try channel.writeInbound(ByteBuffer(string: Self.metrics))
        #expect(shared.starts.load(ordering: .relaxed) == 1)
        #expect(shared.uris.withLock { $0 } == ["/metrics"], "the task received the request that started it")
        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "0"])
        try channel.writeOutbound(HTTPServerResponsePart.head(head))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        try channel.writeInbound(ByteBuffer(string: Self.metrics + Self.status))
        #expect(shared.starts.load(ordering: .relaxed) == 1, "started once")
        #expect(shared.uris.withLock { $0 } == ["/metrics", "/metrics"])
    }

    @Test func aPipelinedStatusWaitsForTheResponseBeforeIt() throws {
        let channel = try connection()
        try channel.writeInbound(ByteBuffer(string: Self.metrics + Self.status))
        #expect(try passedOn(channel) == ["/metrics"])
        #expect(try written(channel).isEmpty, "status is not answered before the metrics response")
        // The task answers /metrics; only then is status answered, after it.
        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "7"])
        try channel.writeOutbound(HTTPServerResponsePart.head(head))
        try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "metrics"))))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        let responses = try written(channel)
        let metricsAt = try #require(responses.firstRange(of: "metrics"))
        let statusAt = try #require(responses.firstRange(of: "\"journal\""))
        #expect(metricsAt.lowerBound < statusAt.lowerBound)
        #expect(try passedOn(channel).isEmpty)
    }

    @Test func idleAndSlowConnectionsAreClosedActiveOnesAreNot() throws {
        let loop = EmbeddedEventLoop()
        func open() throws -> EmbeddedChannel {
            let channel = EmbeddedChannel(loop: loop)
            let router = ControlRouter(
                backend: StaticBackend(),
                authorizer: Authorizer(daemonUID: 1000, groupName: nil)
            )
            try ControlServer.configureConnection(channel, router: router, idleTimeout: 10, answersHere: true)
            try channel.connect(to: SocketAddress(unixDomainSocketPath: "/heidi-test.sock")).wait()
            return channel
        }
        let idle = try open()
        let slow = try open()
        let polling = try open()
        try slow.writeInbound(ByteBuffer(string: "GET /api/v1/sta"))
        for _ in 0..<4 {
            loop.advanceTime(by: .seconds(6))
            try polling.writeInbound(ByteBuffer(string: Self.status))
            _ = try written(polling)
        }
        #expect(!idle.isActive, "no request within 10 s of opening")
        #expect(!slow.isActive, "request not complete within 10 s")
        #expect(polling.isActive, "a status every 6 s for 24 s keeps the connection")
        loop.advanceTime(by: .seconds(11))
        #expect(!polling.isActive, "closed 10 s after its last response")
    }

    /// The stall timeout is a deadline that every sign of progress moves (one timer re-checks it, instead of one
    /// timer scheduled per change): closed exactly `stallTimeout` after the last progress, not after the first stall.
    @Test func aStalledReaderIsClosedAfterTheTimeoutSinceItsLastProgress() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        let router = ControlRouter(backend: StaticBackend(), authorizer: Authorizer(daemonUID: 1000, groupName: nil))
        try ControlServer.configureConnection(
            channel,
            router: router,
            idleTimeout: 1000,
            stallTimeout: 60,
            answersHere: true
        )
        try channel.connect(to: SocketAddress(unixDomainSocketPath: "/heidi-test.sock")).wait()
        func setWritable(_ writable: Bool) {
            channel.isWritable = writable
            channel.pipeline.fireChannelWritabilityChanged()
        }
        setWritable(false)
        loop.advanceTime(by: .seconds(50))
        #expect(channel.isActive)
        setWritable(true)  // the reader took something in
        setWritable(false)
        loop.advanceTime(by: .seconds(50))
        #expect(channel.isActive, "60 s since the first stall, but only 50 s since the reader's last progress")
        loop.advanceTime(by: .seconds(11))
        #expect(!channel.isActive, "closed 60 s after the last progress")

        let recovered = EmbeddedChannel(loop: loop)
        try ControlServer.configureConnection(
            recovered,
            router: router,
            idleTimeout: 1000,
            stallTimeout: 60,
            answersHere: true
        )
        try recovered.connect(to: SocketAddress(unixDomainSocketPath: "/heidi-test.sock")).wait()
        recovered.isWritable = false
        recovered.pipeline.fireChannelWritabilityChanged()
        recovered.isWritable = true
        recovered.pipeline.fireChannelWritabilityChanged()
        loop.advanceTime(by: .seconds(120))
        #expect(recovered.isActive, "no stall once the reader caught up")
    }
}
