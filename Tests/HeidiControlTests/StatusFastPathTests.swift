import HeidiFuzzing
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import HeidiControl

/// The status fast path in front of NIO's HTTP codec: what it answers itself, what it leaves to the codec, and that
/// its answers are the codec's, byte for byte.
@Suite("Status fast path")
struct StatusFastPathTests {
    static let heidictl =
        "GET /api/v1/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUser-Agent: heidictl\r\n\r\n"

    @Test(arguments: [
        (heidictl, false),
        ("GET /api/v1/status HTTP/1.1\r\nHost: heidid\r\n\r\n", true),
        ("GET /api/v1/status HTTP/1.1\r\n\r\n", true),
        (
            "GET /api/v1/status HTTP/1.1\r\nhOsT:x\r\nCONNECTION:  Keep-Alive \r\nAccept: */*\r\nX-Heidi-Actor: ci\r\n\r\n",
            true
        ),
    ])
    func answersThePlainRequestsHeidictlAndPollersSend(request: String, keepAlive: Bool) {
        #expect(Self.plain(request) == keepAlive)
    }

    @Test(arguments: [
        "HEAD /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /api/v1/status?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /api/v1/status HTTP/1.0\r\nHost: x\r\n\r\n",
        "GET /api/v1/status HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        "GET /api/v1/status HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET /api/v1/status HTTP/1.1\r\nConnection: upgrade\r\n\r\n",
        "GET /api/v1/status HTTP/1.1\r\nHost: x\n\r\n",
        "GET /api/v1/status HTTP/1.1\r\nHost: x\r\n",
        "GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v1/status HTTP/1.1\r\n\r\n",
        "GET /api/v1/status HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
        "GET /api/v1/status HTTP/1.1\r\nHost: a\u{1b}b\r\n\r\n",
        "GET /api/v1/status HTTP/1.1\r\nHost x\r\n\r\n",
        "GET /api/v1/status HTTP/1.1\r\n: x\r\n\r\n",
    ])
    func leavesEverythingElseToTheCodec(request: String) {
        #expect(Self.plain(request) == nil)
    }

    /// The same status, asked once plainly (answered before the codec) and once with a field the fast path does
    /// not take (answered by the front handler through NIO's encoder): the same bytes.
    @Test func itsAnswerIsTheCodecPathsByteForByte() throws {
        let fast = try Self.answer(to: "GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
        let codec = try Self.answer(to: "GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Other: 1\r\n\r\n")
        #expect(fast.hasPrefix("HTTP/1.1 200 OK\r\n") && fast.contains("\"journal\""))
        #expect(fast == codec)
    }

    /// On one kept-alive connection the head is reused while the answer's length stays (`lastHead`): when the
    /// status changes length, the next answer carries its own Content-Length, the same bytes as the codec's.
    @Test func aKeptAliveConnectionsAnswersFollowTheStatusLength() throws {
        let backend = StaticBackend()
        let channel = try Self.connection(backend)
        let plain = "GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n"
        for seq: UInt64 in [3, 4, 1_234_567, 1_234_568, 5] {
            backend.journalSeq.withLock { $0 = seq }
            try channel.writeInbound(ByteBuffer(string: plain))
            let fast = try Self.written(channel)
            let codec = try Self.answer(to: "GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Other: 1\r\n\r\n", backend)
            #expect(fast == codec, "seq \(seq)")
            let body = fast.components(separatedBy: "\r\n\r\n").last ?? ""
            #expect(fast.contains("Content-Length: \(body.utf8.count)\r\n"), "seq \(seq): \(fast)")
            #expect(body.contains("\"seq\":\(seq)"), "seq \(seq): \(body)")
        }
    }

    /// Once a request went to the codec, a plain status after it is the codec's too (it may owe the answer to the
    /// request before): both are answered, in order.
    @Test func afterTheCodecTookARequestItKeepsTheConnection() throws {
        let channel = try Self.connection()
        try channel.writeInbound(ByteBuffer(string: "GET /api/v1/sta"))
        try channel.writeInbound(
            ByteBuffer(string: "tus HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v1/status HTTP/1.1\r\n\r\n")
        )
        let text = try Self.written(channel)
        #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count == 3, "\(text.prefix(200))")
        try channel.writeInbound(ByteBuffer(string: "GET /api/v1/status HTTP/1.1\r\n\r\n"))
        #expect(try Self.written(channel).hasPrefix("HTTP/1.1 200 OK"))
    }

    @Test func connectionCloseClosesAfterTheAnswerAndReadsNoMore() throws {
        let channel = try Self.connection()
        try channel.writeInbound(ByteBuffer(string: Self.heidictl))
        let text = try Self.written(channel)
        #expect(text.contains("Connection: close\r\n"))
        #expect(!channel.isActive)
    }

    static func plain(_ request: String) -> Bool? {
        Array(request.utf8).withUnsafeBytes { StatusFastPath.plainStatusRequest($0) }
    }

    static func connection(_ backend: StaticBackend = StaticBackend()) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let router = ControlRouter(backend: backend, authorizer: Authorizer(daemonUID: 1000, groupName: nil))
        try ControlServer.configureConnection(channel, router: router, idleTimeout: 10, answersHere: true)
        try channel.connect(to: SocketAddress(unixDomainSocketPath: "/heidi-test.sock")).wait()
        return channel
    }

    static func answer(to request: String, _ backend: StaticBackend = StaticBackend()) throws -> String {
        let channel = try connection(backend)
        try channel.writeInbound(ByteBuffer(string: request))
        return try written(channel)
    }

    static func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let data = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let buffer) = data { text += String(buffer: buffer) }
        }
        return text
    }
}
