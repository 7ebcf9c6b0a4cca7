/// The fleet protocol between a worker's heidi-web and the dashboard's (docs/fleet.md): HTTP/1.1 over TLS, the worker
/// always the client (outbound only), authenticated with its token (`Authorization: Bearer`) or the shared secret
/// (`Authorization: Basic <worker>:<TELEMETRY_PASS>`).
public enum FleetWire {
    /// Journal lines, whole and in seq order, as the body; the answer is a `BatchReply` (200 taken, 409 gap or fork:
    /// the worker rewinds to `head` from its files).
    public static let journal = "/fleet/v1/journal"
    /// heidid's status JSON as the body, sent on every change.
    public static let status = "/fleet/v1/status"
    /// No body; answered with a `BatchReply` (the copy's head: where the worker resumes).
    public static let heartbeat = "/fleet/v1/heartbeat"
    /// Long poll for relayed requests (`?wait=` seconds); answered with `[FleetTask]`.
    public static let tasks = "/fleet/v1/tasks"
    /// `POST /fleet/v1/tasks/<id>`: a relayed request's answer as the body, its HTTP status in `X-Heidi-Status`.
    public static let taskResultPrefix = "/fleet/v1/tasks/"

    /// The worker's own journal head (its last seq), on every request: the dashboard's lag in seq.
    public static let workerHeadHeader = "X-Heidi-Worker-Head"
    /// The time of the worker's last journal line (microseconds since 1970): the dashboard's lag in seconds.
    public static let workerHeadTimeHeader = "X-Heidi-Worker-Head-Time"
    /// `1` when the worker's config lets the dashboard act on it (`web.dashboard.allow_actions`).
    public static let allowActionsHeader = "X-Heidi-Allow-Actions"
    public static let statusHeader = "X-Heidi-Status"

    /// A worker name: 1–64 of `A-Z a-z 0-9 . _ -`, not starting with a dot (it names a directory).
    public static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), !name.hasPrefix(".") else { return false }
        return name.utf8.allSatisfy { byte in
            (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte) || byte == 0x2e
                || byte == 0x5f || byte == 0x2d
        }
    }
}

/// The dashboard's answer to a batch or heartbeat: its copy's head, and what happened to the batch.
public struct BatchReply: Sendable, Equatable, Codable {
    public var head: UInt64
    public var hash: String
    public var appended: Int
    public var duplicates: Int
    /// Why the batch was not wholly taken (a gap, a fork, malformed lines); nil when it was.
    public var problem: String?
    /// True when the dashboard has no status from this worker (it restarted): the worker sends it again.
    public var wantsStatus: Bool?

    public init(
        head: ChainHead,
        appended: Int = 0,
        duplicates: Int = 0,
        problem: String? = nil,
        wantsStatus: Bool? = nil
    ) {
        self.head = head.seq
        hash = head.hash
        self.appended = appended
        self.duplicates = duplicates
        self.problem = problem
        self.wantsStatus = wantsStatus
    }
}

/// A request the dashboard relays to a worker's heidid (a curve, a log tail, an action): the worker fetches it by
/// long poll, since the dashboard cannot dial a worker behind NAT.
public struct FleetTask: Sendable, Equatable, Codable {
    public var id: String
    public var method: String
    /// heidid's request target (`/v1/scalars`, `/v1/logs?tail=200`, `/v1/action/pause`).
    public var target: String
    /// Who asked and from where, for the worker's journal (`X-Heidi-Actor`).
    public var actor: String?
    public var body: String

    public init(id: String, method: String, target: String, actor: String?, body: String) {
        self.id = id
        self.method = method
        self.target = target
        self.actor = actor
        self.body = body
    }
}
