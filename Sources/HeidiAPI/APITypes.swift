import HeidiCore

/// The control API's version and paths (SPEC §5).
public enum API {
    public static let version = 1
    public static let status = "/api/v1/status"
    public static let health = "/api/v1/health"
    public static let actionPrefix = "/api/v1/action/"
    public static let events = "/api/v1/events"
    public static let logs = "/api/v1/logs"
    public static let metrics = "/metrics"
    /// The trailer of a followed `GET /api/v1/logs` saying how the stage ended:
    /// `success|failed|timeout|interrupted|not_run; <description>`.
    public static let stageEndTrailer = "X-Heidi-Stage-End"
    /// Training scalars of a run (`?run_id=`, default the current one) for heidi-web's curves.
    public static let scalars = "/api/v1/scalars"
    /// Requests larger than this are refused with 413.
    public static let maxRequestBytes = 64 * 1024
}

/// The operator actions of `POST /api/v1/action/<name>`.
public enum Action: String, Sendable, CaseIterable, Codable {
    case start, stop, pause, resume, reset
    case trainNow = "train_now"
    /// Resume a paused run for one stage, then hold again at the next stage boundary (`heidi.compat.Core.tick`).
    case step
}

/// Body of `POST /api/v1/action/start` (both fields optional; the config supplies defaults).
public struct StartRequest: Sendable, Equatable, Codable {
    public var mode: PipelineMode?
    public var rounds: Int?
    /// Hold before the first stage (`paused` true), as if a pause had been requested.
    public var paused: Bool?
    /// Drop a collected round that waits for train-now (without it such a start is refused with 409).
    public var discard: Bool?

    public init(mode: PipelineMode? = nil, rounds: Int? = nil, paused: Bool? = nil, discard: Bool? = nil) {
        self.mode = mode
        self.rounds = rounds
        self.paused = paused
        self.discard = discard
    }
}

/// The 202 answer to an accepted action.
public struct ActionResponse: Sendable, Equatable, Codable {
    public var accepted: Bool
    public var action: String
    /// train-now: `started` or `queued`; others: a short note or null.
    public var outcome: String?
    public var state: PipelinePhase
    public var runID: String?

    public init(action: String, outcome: String?, state: PipelinePhase, runID: String?) {
        self.accepted = true
        self.action = action
        self.outcome = outcome
        self.state = state
        self.runID = runID
    }

    enum CodingKeys: String, CodingKey {
        case accepted, action, outcome, state
        case runID = "run_id"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(accepted, forKey: .accepted)
        try c.encode(action, forKey: .action)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(state, forKey: .state)
        try c.encode(runID, forKey: .runID)
    }
}

/// Error codes of the API's JSON error bodies, with their HTTP status.
public enum APIErrorCode: String, Sendable, Codable, CaseIterable {
    case invalidState = "invalid_state"
    case badRequest = "bad_request"
    case forbidden
    case notFound = "not_found"
    case methodNotAllowed = "method_not_allowed"
    case tooLarge = "too_large"
    case unavailable
    case `internal`

    public var httpStatus: Int {
        switch self {
        case .invalidState: return 409
        case .badRequest: return 400
        case .forbidden: return 403
        case .notFound: return 404
        case .methodNotAllowed: return 405
        case .tooLarge: return 413
        case .unavailable: return 503
        case .internal: return 500
        }
    }
}

/// `{"error":{"code":"…","message":"…"}}`
public struct APIErrorBody: Error, Sendable, Equatable, Codable {
    public struct Detail: Sendable, Equatable, Codable {
        public var code: APIErrorCode
        public var message: String
    }

    public var error: Detail

    public init(_ code: APIErrorCode, _ message: String) {
        error = Detail(code: code, message: message)
    }
}

/// `{"ok":true}`
public struct HealthResponse: Sendable, Equatable, Codable {
    public var ok: Bool
    public init(ok: Bool) { self.ok = ok }
}
