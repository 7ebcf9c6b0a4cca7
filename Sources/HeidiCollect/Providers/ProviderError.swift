/// Why one attempt at a teacher request failed. Messages never contain the API key (providers scrub them).
public enum ProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// HTTP 429. `retryAfter`: seconds the server asked us to wait.
    case rateLimited(retryAfter: Double?, message: String)
    /// HTTP 5xx (and 408): the server failed; worth another try.
    case server(status: Int, retryAfter: Double?, message: String)
    /// No complete answer within the per-request timeout.
    case timeout(seconds: Double)
    /// The connection failed (refused, reset, TLS, DNS).
    case transport(String)
    /// 401/403: the key is missing, wrong or not allowed. Every further request would fail the same way.
    case unauthorized(status: Int, message: String)
    /// Another 4xx: the request itself is wrong (404 model or path, 400 bad parameter, ...). Not retried.
    case rejected(status: Int, message: String)
    /// A 2xx answer that is not a chat completion: bad JSON, no `choices`, an HTML page, an empty answer.
    case malformed(String)
    /// The run is stopping.
    case cancelled

    /// Worth another attempt after a backoff.
    public var isRetryable: Bool {
        switch self {
        case .rateLimited, .server, .timeout, .transport: return true
        case .unauthorized, .rejected, .malformed, .cancelled: return false
        }
    }

    /// Makes every further request pointless (bad key, wrong endpoint or model): the run stops issuing requests.
    public var isFatal: Bool {
        switch self {
        case .unauthorized: return true
        case .rejected(let status, _): return status == 404
        default: return false
        }
    }

    /// The server's Retry-After, when it gave one.
    public var retryAfter: Double? {
        switch self {
        case .rateLimited(let retryAfter, _), .server(_, let retryAfter, _): return retryAfter
        default: return nil
        }
    }

    /// A stable short code for counters (`failed_<code>`) and summaries.
    public var code: String {
        switch self {
        case .rateLimited: return "rate_limited"
        case .server(let status, _, _): return "http_\(status)"
        case .timeout: return "timeout"
        case .transport: return "transport"
        case .unauthorized(let status, _): return "http_\(status)"
        case .rejected(let status, _): return "http_\(status)"
        case .malformed: return "malformed_response"
        case .cancelled: return "cancelled"
        }
    }

    public var description: String {
        switch self {
        case .rateLimited(let retryAfter, let message):
            return
                "rate limited (HTTP 429\(retryAfter.map { ", Retry-After \(Self.seconds($0))" } ?? ""))\(Self.suffix(message))"
        case .server(let status, _, let message): return "server error (HTTP \(status))\(Self.suffix(message))"
        case .timeout(let seconds): return "no answer within \(Self.seconds(seconds))"
        case .transport(let message): return "connection failed: \(message)"
        case .unauthorized(let status, let message):
            return "not authorized (HTTP \(status)): check the API key\(Self.suffix(message))"
        case .rejected(let status, let message):
            let hint = status == 404 ? ": check --base-url and --model" : ""
            return "request rejected (HTTP \(status))\(hint)\(Self.suffix(message))"
        case .malformed(let message): return "malformed response: \(message)"
        case .cancelled: return "cancelled"
        }
    }

    private static func suffix(_ message: String) -> String { message.isEmpty ? "" : ": " + message }

    static func seconds(_ value: Double) -> String {
        value < 1
            ? "\(Int((value * 1000).rounded()))ms" : "\(value.rounded() == value ? String(Int(value)) : String(value))s"
    }
}
