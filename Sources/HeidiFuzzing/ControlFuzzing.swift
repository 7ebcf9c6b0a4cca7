import Dispatch
import HeidiAPI
import HeidiControl
import HeidiCore
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The control server's request path for fuzzing and for replaying saved inputs: raw bytes go through NIO's HTTP
/// decoder exactly as on the socket, every complete request is routed (with authorization and body decoding) to
/// an in-memory backend. Any crash, hang or trap here is a bug in the request path.
public enum ControlFuzzing {
    /// Runs one input from a plain thread (the libFuzzer entry point), blocking until it is done. Never call it from
    /// Swift concurrency: it waits on a semaphore.
    @discardableResult
    public static func run(_ bytes: [UInt8]) -> Int {
        let done = DispatchSemaphore(value: 0)
        let count = RoutedCount()
        Task {
            count.value = await route(bytes)
            done.signal()
        }
        done.wait()
        return count.value
    }

    /// Runs one input. Returns how many requests were routed (for tests): answered in the connection's pipeline or
    /// passed on to the router by it.
    @discardableResult
    public static func route(_ bytes: [UInt8]) async -> Int {
        let channel = EmbeddedChannel()
        let collector = RequestCollector()
        let router = ControlRouter(backend: StaticBackend(), authorizer: Authorizer(daemonUID: 1000, groupName: nil))
        do {
            // The server's own connection pipeline: status is answered inside it, the rest reaches the collector.
            try ControlServer.configureConnection(channel, router: router, idleTimeout: 10, answersHere: true)
            try channel.pipeline.syncOperations.addHandler(collector)
            // Feed in pieces, as a socket would deliver them.
            var offset = 0
            var piece = 1
            while offset < bytes.count {
                let end = min(bytes.count, offset + piece)
                try channel.writeInbound(ByteBuffer(bytes: bytes[offset..<end]))
                offset = end
                piece = piece * 3 + 1
            }
        } catch {
            // Malformed HTTP: the pipeline answers 400 and closes; that is the expected outcome.
        }
        _ = try? channel.finish()
        let peers = [PeerCredentials(pid: 1, uid: 0, gid: 0), PeerCredentials(pid: 1, uid: 4242, gid: 4242)]
        for (index, request) in collector.requests.enumerated() {
            let routed = ControlRequest(
                method: request.method,
                uri: request.uri,
                body: request.body,
                peer: peers[index % 2]
            )
            let response = await router.route(routed)
            if case .stream(let chunks) = response.body { for await _ in chunks {} }
        }
        // Those passed on, and those answered in the pipeline.
        return collector.requests.count + Int(router.stats.answered)
    }
}

/// The result slot of `ControlFuzzing.run` (written by the task before the semaphore is signalled).
private final class RoutedCount: @unchecked Sendable {
    var value = 0
}

/// Collects complete requests from the HTTP decoder.
final class RequestCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart

    struct Request {
        var method: String
        var uri: String
        var body: [UInt8]
    }

    private(set) var requests: [Request] = []
    private var current: Request?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): current = Request(method: head.method.rawValue, uri: head.uri, body: [])
        case .body(var buffer):
            current?.body += buffer.readBytes(length: min(buffer.readableBytes, API.maxRequestBytes)) ?? []
        case .end:
            if let current { requests.append(current) }
            current = nil
        }
    }
}

/// A backend with fixed answers, for fuzzing and router tests.
public actor StaticBackend: ControlBackend {
    public private(set) var actions: [Action] = []
    public var refuse = false
    /// The journal seq `publishedStatus()` reports: a test changes it to change the status, and its length.
    public nonisolated let journalSeq = Mutex<UInt64>(3)

    public init() {}

    public func setRefuse(_ value: Bool) { refuse = value }

    public nonisolated func publishedStatus() -> StatusSnapshot? {
        StatusSnapshot(
            version: "0.1.0",
            pid: 1,
            startedAt: "t",
            state: .idle,
            mode: .full,
            runID: nil,
            round: 0,
            rounds: 0,
            stage: nil,
            paused: false,
            pauseRequested: false,
            trainNowPending: false,
            awaitingTrainNow: false,
            stopping: false,
            child: nil,
            lastError: nil,
            journal: JournalHead(path: "/j", seq: journalSeq.withLock { $0 }, head: SHA256.zeroHex),
            supervision: "subreaper+pgroup",
            updatedAt: "t"
        )
    }

    public func isReady() async -> Bool { true }

    public func perform(_ action: Action, start: StartRequest?) async -> Result<ActionResponse, APIErrorBody> {
        actions.append(action)
        if refuse { return .failure(APIErrorBody(.invalidState, "\(action.rawValue) refused: no run is active")) }
        return .success(
            ActionResponse(
                action: action.rawValue,
                outcome: action == .trainNow ? "queued" : nil,
                state: .collecting,
                runID: "r"
            )
        )
    }

    public func events(after: UInt64, follow: Bool) async -> Result<AsyncStream<[UInt8]>, APIErrorBody> {
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        continuation.yield(Array("{\"seq\":\(after &+ 1)}\n".utf8))
        continuation.finish()
        return .success(stream)
    }

    public func logs(
        stage: String,
        round: Int?,
        tail: Int?,
        fromLine: Int?,
        follow: Bool
    ) async -> Result<LogStream, APIErrorBody> {
        .failure(APIErrorBody(.notFound, "no log"))
    }

    public func metrics() async -> String { "heidi_up 1\n" }
}
