import HeidiAPI
import HeidiCore

/// A response body: complete bytes, or a stream of chunks (followed events and logs).
public enum ResponseBody: Sendable {
    case bytes([UInt8])
    case stream(AsyncStream<[UInt8]>)
}

/// An HTTP response from the router.
public struct ControlResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: ResponseBody
    /// Extra response headers.
    public var headers: [(String, String)]
    /// For a stream: trailers sent after its last chunk (chunked encoding), asked for once the stream has ended.
    public var trailers: (@Sendable () async -> [(String, String)])?

    public init(
        status: Int,
        contentType: String = "application/json",
        body: ResponseBody,
        headers: [(String, String)] = [],
        trailers: (@Sendable () async -> [(String, String)])? = nil
    ) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
        self.trailers = trailers
    }

    public static func json<T: Encodable>(_ status: Int, _ value: T) -> ControlResponse {
        let bytes = (try? JSONCoding.encode(value)) ?? Array("{}".utf8)
        return ControlResponse(status: status, body: .bytes(bytes + [0x0a]))
    }

    public static func error(_ code: APIErrorCode, _ message: String) -> ControlResponse {
        json(code.httpStatus, APIErrorBody(code, message))
    }
}

/// A stage log as streamed to a client: the 0-based index of its first line in the log (across rotation), and
/// its bytes.
public struct LogStream: Sendable {
    public var firstLine: Int
    public var chunks: AsyncStream<[UInt8]>
    /// The rotated older part the stream starts with (`<stage>.log.1`), if the log has been rotated.
    public var rotatedPart: String?
    /// After the chunks have ended: how the followed stage ended (`success; exit 0`), or nil when not known
    /// (not following, or the daemon is stopping).
    public var ending: @Sendable () async -> String?

    public init(
        firstLine: Int,
        chunks: AsyncStream<[UInt8]>,
        rotatedPart: String? = nil,
        ending: @escaping @Sendable () async -> String? = { nil }
    ) {
        self.firstLine = firstLine
        self.chunks = chunks
        self.rotatedPart = rotatedPart
        self.ending = ending
    }
}

/// What the control server needs from the daemon. The engine implements it; tests use a fake.
public protocol ControlBackend: Sendable {
    /// The status now, without waiting for anything (the control server answers it on the connection's event loop);
    /// nil while the daemon is still starting.
    func publishedStatus() -> StatusSnapshot?
    /// `publishedStatus()`'s JSON followed by a newline, byte for byte (the body of `GET /api/v1/status`); a backend
    /// that keeps the status encoded answers it without encoding the whole snapshot per request.
    func publishedStatusJSON() -> [UInt8]?
    /// The status now, then one status object per change (NDJSON), for `GET /api/v1/status?watch=1`.
    func statusUpdates() -> AsyncStream<[UInt8]>
    /// True once the daemon is fully up (journal checked, state recovered).
    func isReady() async -> Bool
    /// Carries out an action; an `APIErrorBody` (usually `invalid_state`) when it does not apply.
    func perform(_ action: Action, start: StartRequest?) async -> Result<ActionResponse, APIErrorBody>
    /// Journal lines with seq > `after`, byte for byte; with `follow`, then live lines until the client goes away.
    func events(after: UInt64, follow: Bool) async -> Result<AsyncStream<[UInt8]>, APIErrorBody>
    /// A stage's output lines (the current run's): the last `tail` lines, or those from line `fromLine` (0-based)
    /// on; with `follow`, then live lines.
    func logs(
        stage: String,
        round: Int?,
        tail: Int?,
        fromLine: Int?,
        follow: Bool
    ) async -> Result<LogStream, APIErrorBody>
    /// Prometheus text exposition.
    func metrics() async -> String
    /// Like `perform(_:start:)`, for a client acting for someone (`actor`, e.g. heidi-web's logged-in operator and
    /// address): the action's journal events say who.
    func perform(_ action: Action, start: StartRequest?, actor: String?) async -> Result<ActionResponse, APIErrorBody>
    /// `GET /api/v1/scalars`: a run's training scalars as JSON (nil: the current run).
    func scalars(runID: String?) async -> Result<[UInt8], APIErrorBody>
}

extension ControlBackend {
    public func perform(
        _ action: Action,
        start: StartRequest?,
        actor: String?
    ) async -> Result<ActionResponse, APIErrorBody> {
        await perform(action, start: start)
    }

    public func scalars(runID: String?) async -> Result<[UInt8], APIErrorBody> {
        .failure(APIErrorBody(.notFound, "this daemon keeps no scalars"))
    }
}

extension ControlBackend {
    public func publishedStatusJSON() -> [UInt8]? { publishedStatus().map { $0.jsonBytes() + [0x0a] } }

    /// Without a change feed: the status now, once.
    public func statusUpdates() -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        if let status = publishedStatus() { continuation.yield(status.jsonBytes() + [0x0a]) }
        continuation.finish()
        return stream
    }
}
