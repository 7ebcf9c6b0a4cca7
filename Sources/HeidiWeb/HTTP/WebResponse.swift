import HeidiAPI
import HeidiCore

/// A response from heidi-web's router: complete bytes, or a stream written as it comes (events, logs, SSE).
public struct WebResponse: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        case stream(AsyncStream<[UInt8]>)
    }

    public var status: Int
    public var headers: [(String, String)]
    public var body: Body

    public init(status: Int, headers: [(String, String)] = [], body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of a header.
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    public var bodyBytes: [UInt8] {
        if case .bytes(let bytes) = body { return bytes }
        return []
    }

    /// A JSON body already encoded (named apart from `json(_:_:)`: `[UInt8]` is Encodable too, and would be encoded as
    /// an array of numbers).
    public static func jsonBytes(_ status: Int, _ bytes: [UInt8], headers: [(String, String)] = []) -> WebResponse {
        WebResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: .bytes(bytes))
    }

    public static func json<T: Encodable>(_ status: Int, _ value: T, headers: [(String, String)] = []) -> WebResponse {
        jsonBytes(status, ((try? JSONCoding.encode(value)) ?? Array("{}".utf8)) + [0x0a], headers: headers)
    }

    /// heidid's error shape, `{"error":{"code":…,"message":…}}`.
    public static func error(
        _ status: Int,
        _ code: String,
        _ message: String,
        headers: [(String, String)] = []
    ) -> WebResponse {
        let body = "{\"error\":{\"code\":\(JSONText.quoted(code)),\"message\":\(JSONText.quoted(message))}}\n"
        return jsonBytes(status, Array(body.utf8), headers: headers)
    }

    public static func text(
        _ status: Int,
        _ text: String,
        contentType: String = "text/plain; charset=utf-8"
    ) -> WebResponse {
        WebResponse(status: status, headers: [("Content-Type", contentType)], body: .bytes(Array(text.utf8)))
    }
}

/// Headers every response carries (SPEC §12): no inline script, no framing, no sniffing, no caching of data.
public enum SecurityHeaders {
    public static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

    public static func all(tls: Bool) -> [(String, String)] {
        var headers = [
            ("Content-Security-Policy", contentSecurityPolicy),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "no-referrer"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
            ("Cross-Origin-Resource-Policy", "same-origin"),
            ("Cache-Control", "no-store"),
        ]
        if tls { headers.append(("Strict-Transport-Security", "max-age=31536000")) }
        return headers
    }
}
