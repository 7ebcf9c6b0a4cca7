import HeidiAPI
import HeidiControl
import HeidiCore
import HeidiTestSupport
import Logging
import ServiceLifecycle
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A backend whose log is a lazily made stream of `size` bytes, counting what the server has pulled from it.
final class BigLogBackend: ControlBackend {
    let size: Int
    let produced = Atomic<Int>(0)
    static let chunk = 64 * 1024

    /// The whole log (lines of 60 equal digits, the digit counting up, so a shifted or dropped piece is seen),
    /// made up front so the stream hands out chunks as fast as a file read would.
    let content: [UInt8]

    init(size: Int) {
        self.size = size
        // Line by line, not byte by byte: a debug build takes seconds over 12 M closure calls, on the shared pool.
        let lines = (0..<10).map { digit in [UInt8](repeating: UInt8(0x30 + digit), count: 60) + [0x0a] }
        var content: [UInt8] = []
        content.reserveCapacity(size + 61)
        var line = 0
        while content.count < size {
            content += lines[line % 10]
            line += 1
        }
        self.content = Array(content.prefix(size))
    }

    func publishedStatus() -> StatusSnapshot? { nil }
    func isReady() async -> Bool { true }
    func perform(_ action: Action, start: StartRequest?) async -> Result<ActionResponse, APIErrorBody> {
        .failure(APIErrorBody(.invalidState, "no"))
    }
    func events(after: UInt64, follow: Bool) async -> Result<AsyncStream<[UInt8]>, APIErrorBody> {
        .failure(APIErrorBody(.notFound, "no"))
    }
    func logs(
        stage: String,
        round: Int?,
        tail: Int?,
        fromLine: Int?,
        follow: Bool
    ) async -> Result<LogStream, APIErrorBody> {
        let chunks = AsyncStream<[UInt8]>(unfolding: { [self] in
            let start = produced.load(ordering: .relaxed)
            guard start < size else { return nil }
            let end = min(size, start + Self.chunk)
            produced.store(end, ordering: .relaxed)
            return Array(content[start..<end])
        })
        return .success(LogStream(firstLine: 0, chunks: chunks, ending: { follow ? "failed; exit 3" : nil }))
    }
    func metrics() async -> String { "" }
}

extension ControlServerTests {
    /// Large responses over a real socket: every byte and the terminating chunk reach a slow reader, and the server
    /// pulls the body only as fast as the reader takes it. Nested in the serialized server suite: two in-process
    /// servers (each with its own ServiceGroup) running at once in the test process hung both.
    @Suite("Large responses")
    struct LargeResponseTests {
        /// What a slow reader saw: the decoded body, whether the terminating chunk came, the trailers, and the most
        /// the server had pulled beyond what the reader had received.
        struct Reading: Sendable {
            var body: [UInt8] = []
            var terminated = false
            var trailers = ""
            var maxAhead = 0
        }

        /// Reads a `Connection: close` chunked response 64 KiB at a time with 2 ms between reads (a reader slower
        /// than the server, like heidictl printing to a terminal), pausing `pauses` times for `pause` seconds.
        static func readSlowly(
            _ path: String,
            _ target: String,
            backend: BigLogBackend,
            pauses: Int,
            pause: Double
        ) -> Reading {
            guard let fd = ControlServerTests.connected(path) else { return Reading() }
            defer { close(fd) }
            var timeout = timeval(tv_sec: 60, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let request = "GET \(target) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            var raw: [UInt8] = []
            var reading = Reading()
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            var pausesLeft = pauses
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                raw += buffer[0..<n]
                reading.maxAhead = max(reading.maxAhead, backend.produced.load(ordering: .relaxed) - raw.count)
                usleep(2000)
                if pausesLeft > 0 && raw.count > (pauses - pausesLeft + 1) * backend.size / (pauses + 1) {
                    pausesLeft -= 1
                    usleep(UInt32(pause * 1e6))
                }
            }
            // Decode the chunked body.
            guard let headEnd = raw.firstRange(of: Array("\r\n\r\n".utf8)) else { return reading }
            var index = headEnd.upperBound
            while let lineEnd = raw[index...].firstRange(of: Array("\r\n".utf8)) {
                guard let size = Int(String(decoding: raw[index..<lineEnd.lowerBound], as: UTF8.self), radix: 16) else {
                    break
                }
                index = lineEnd.upperBound
                if size == 0 {
                    reading.terminated =
                        raw[index...].starts(with: Array("\r\n".utf8))
                        || raw[index...].firstRange(of: Array("\r\n\r\n".utf8)) != nil
                    reading.trailers = String(decoding: raw[index...], as: UTF8.self)
                    break
                }
                guard index + size <= raw.count else { break }
                reading.body += raw[index..<(index + size)]
                index += size + 2
            }
            return reading
        }

        func withServer(_ backend: BigLogBackend, _ body: (String) async throws -> Void) async throws {
            let path = scratchSocketPath("big")
            let ready = AsyncStream.makeStream(of: Void.self)
            let server = ControlServer(
                socketPath: path,
                activatedDescriptor: nil,
                router: ControlRouter(backend: backend, authorizer: Authorizer(groupName: nil)),
                socketGroup: nil,
                logger: Logger(label: "test")
            ) { ready.continuation.yield() }
            let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                for await _ in ready.stream { break }
                try await body(path)
                await group.triggerGracefulShutdown()
                try await tasks.next()
            }
        }

        @Test(
            "a slow reader of a Connection: close stream gets every byte and the terminating chunk, pulled at its pace"
        )
        func slowReaderGetsEverything() async throws {
            let backend = BigLogBackend(size: 12 << 20)
            try await withServer(backend) { path in
                let reading = await Blocking.run {
                    Self.readSlowly(path, "/api/v1/logs?stage=train", backend: backend, pauses: 3, pause: 0.7)
                }
                #expect(reading.body.count == backend.size, "got \(reading.body.count) of \(backend.size) bytes")
                let unchanged = reading.body == backend.content
                #expect(unchanged, "the bytes arrive in order, unchanged")
                #expect(reading.terminated, "the chunked body ends with its terminating chunk")
                // Socket buffers and NIO's high-water mark, not the body: the server pulls at the reader's pace.
                #expect(reading.maxAhead < 1 << 20, "the server ran \(reading.maxAhead) bytes ahead of the reader")
            }
        }

        @Test("a followed log's stream ends with a trailer saying how the stage ended")
        func followedLogEndsWithTrailer() async throws {
            let backend = BigLogBackend(size: 1 << 20)
            try await withServer(backend) { path in
                let reading = await Blocking.run {
                    Self.readSlowly(path, "/api/v1/logs?stage=train&follow=1", backend: backend, pauses: 0, pause: 0)
                }
                #expect(reading.body.count == backend.size)
                #expect(reading.trailers.contains("\(API.stageEndTrailer): failed; exit 3\r\n"), "\(reading.trailers)")
            }
        }
    }
}
