import HeidiAPI
import HeidiCore
import NIOCore
import NIOHTTP1

/// The first handler of a control connection: answers a plain `GET /api/v1/status` straight from the bytes read,
/// before NIO's HTTP codec, and hands everything else to the codec unchanged.
///
/// Why by hand: the codec's per-request work (decoding into a request head with its header storage, the pipelining
/// handler, four outbound handlers) costs a few microseconds between reading a request and writing its answer. On
/// these VMs that is where the kernel wakes the client for nothing (a Unix socket wakes a reader blocked in `read(2)`
/// when its peer consumes what it sent), and the client then preempts heidid: 3 µs of work there cost 7 µs of round
/// trip in a C server (contrib/bench/README.md). Status is the request a poller sends over and over; the codec stays
/// in charge of everything else.
///
/// Only what this handler can answer exactly is answered here: one complete request in one read, exactly the
/// request line `GET /api/v1/status HTTP/1.1`, and only the header fields `Host`, `User-Agent`, `Accept`,
/// `X-Heidi-Actor` and `Connection: close|keep-alive`, with printable values. Anything else (another request, a
/// query, a body, another field, a request split over reads, pipelined requests, a reader that is not keeping up)
/// goes to the codec, and from then on the connection is the codec's alone, so responses keep their order. The
/// answer is the router's, with the head the codec path writes (`ControlResponse.head`); a `StatusFastPath.Answered`
/// event tells the front handler a request was answered (its idle timeout).
final class StatusFastPath: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = IOData

    /// Sent down the pipeline after each answer given here.
    struct Answered {}

    private let router: ControlRouter
    /// Something went to the codec: everything after it does too.
    private var passedOn = false
    /// An answer here ended the connection (`Connection: close`): what the client sends after it is not read.
    private var closing = false
    /// The head this connection wrote last, and what it was made of (a response without extra header fields): a
    /// poller's answers differ in their body, whose length seldom changes, so the head's bytes are reused instead of
    /// built (`HTTPHeaders`) and encoded again: 6 % of a one-CPU round trip (contrib/bench/README.md).
    private var lastHead: (status: Int, contentType: String, keepAlive: Bool, length: Int, bytes: ByteBuffer)?

    init(router: ControlRouter) {
        self.router = router
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if closing { return }
        let buffer = unwrapInboundIn(data)
        let started = MonotonicClock.nanoseconds()
        guard !passedOn, context.channel.isWritable,
            let keepAlive = buffer.withUnsafeReadableBytes(Self.plainStatusRequest),
            let response = router.immediateResponse(method: "GET", path: API.status),
            case .bytes(let body) = response.body
        else {
            // The codec's from here on: it may hold part of a request, or owe a response.
            passedOn = true
            context.fireChannelRead(data)
            return
        }
        let head = self.head(of: response, keepAlive: keepAlive, length: body.count, context)
        var answer = context.channel.allocator.buffer(capacity: head.readableBytes + body.count)
        answer.writeImmutableBuffer(head)
        answer.writeBytes(body)
        // A promise only when the connection closes after the answer: on a kept-alive connection (a poller asking
        // again and again) it would be an allocation and a callback per request for nothing.
        let written = keepAlive ? nil : context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(answer)), promise: written)
        router.stats.record(seconds: Double(MonotonicClock.nanoseconds() - started) / 1e9)
        context.fireUserInboundEventTriggered(Answered())
        if let written {
            closing = true
            // Closed once the answer has reached the socket: closing at once would drop what NIO still buffers.
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// The head of `response`, whose body is `length` bytes: `lastHead`'s bytes when it was made of the same.
    private func head(
        of response: ControlResponse,
        keepAlive: Bool,
        length: Int,
        _ context: ChannelHandlerContext
    )
        -> ByteBuffer
    {
        let cacheable = response.headers.isEmpty
        if cacheable, let last = lastHead, last.status == response.status, last.contentType == response.contentType,
            last.keepAlive == keepAlive, last.length == length
        {
            return last.bytes
        }
        let bytes = Self.encode(response.head(keepAlive: keepAlive), allocator: context.channel.allocator)
        lastHead = cacheable ? (response.status, response.contentType, keepAlive, length, bytes) : nil
        return bytes
    }

    private static let requestLine = Array("GET \(API.status) HTTP/1.1\r\n".utf8)
    private static let end = Array("\r\n\r\n".utf8)

    /// Whether `bytes` are exactly one plain status request (see the type's description): nil if not, else whether
    /// the connection stays open after the answer.
    static func plainStatusRequest(_ bytes: UnsafeRawBufferPointer) -> Bool? {
        guard bytes.count <= 4096, bytes.starts(with: requestLine), bytes.count >= requestLine.count + 2,
            bytes.suffix(end.count).elementsEqual(end)
        else { return nil }
        var keepAlive = true
        // The field lines, each ending in CRLF, then the empty line.
        var lines = bytes[requestLine.count..<(bytes.count - 2)]
        while !lines.isEmpty {
            guard let cr = lines.firstIndex(of: 13), cr + 1 < lines.endIndex, lines[cr + 1] == 10,
                let field = HTTPFieldLine(UnsafeRawBufferPointer(rebasing: lines[..<cr])),
                !field.name.isEmpty, field.name.utf8.allSatisfy(isTokenByte),
                field.value.utf8.allSatisfy({ $0 == 9 || (32...126).contains($0) })
            else { return nil }
            switch field.name {
            case "host", "user-agent", "accept", "x-heidi-actor":
                break
            case "connection":
                switch field.value.lowercased() {
                case "close": keepAlive = false
                case "keep-alive": keepAlive = true
                default: return nil
                }
            default:
                return nil
            }
            lines = lines[(cr + 2)...]
        }
        return keepAlive
    }

    /// The status line, the head's fields in order and the empty line: what NIO's response encoder writes before
    /// a body of known length.
    static func encode(_ head: HTTPResponseHead, allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: 256)
        out.writeString("HTTP/1.1 \(head.status.code) \(head.status.reasonPhrase)\r\n")
        for (name, value) in head.headers {
            out.writeString(name)
            out.writeString(": ")
            out.writeString(value)
            out.writeString("\r\n")
        }
        out.writeString("\r\n")
        return out
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte) || byte == 45
    }
}
