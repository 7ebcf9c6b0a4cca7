import HeidiCore

/// A command that failed: the message for stderr, the exit code, and, with `--json`, the error object for stdout
/// (the daemon's own error body when it sent one). `HeidiCtl.main` reports every `CommandFailure` the same way, so
/// with `--json` each failure prints exactly one JSON document on stdout, as the README promises.
struct CommandFailure: Error, CustomStringConvertible {
    /// The error code of the JSON object: the API's codes, plus `not_running`, `usage`, `unreadable`, `io_error`,
    /// `protocol_error`, `incompatible` for failures on this side of the socket.
    var code: String
    var message: String
    var exitCode: Int32
    /// The daemon's error body, printed as it came.
    var body: [UInt8]?

    init(_ code: String, _ message: String, exitCode: Int32, body: [UInt8]? = nil) {
        self.code = code
        self.message = message
        self.exitCode = exitCode
        self.body = body
    }

    init(_ error: ClientError) {
        self.init(error.code, error.description, exitCode: error.exitCode)
    }

    var description: String { message }

    /// `{"error":{"code":"…","message":"…"}}` and a newline, the shape of the API's error bodies.
    var jsonBytes: [UInt8] {
        if let body, !body.isEmpty { return body.last == 0x0a ? body : body + [0x0a] }
        return Self.errorObject(code: code, message: message)
    }

    static func errorObject(code: String, message: String) -> [UInt8] {
        Array("{\"error\":{\"code\":\(JSONText.quoted(code)),\"message\":\(JSONText.quoted(message))}}\n".utf8)
    }
}

extension ClientError {
    /// The `code` of the error object heidictl prints with `--json`.
    var code: String {
        switch self {
        case .noSocket, .staleSocket: return "not_running"
        case .permissionDenied: return "forbidden"
        case .incompatible: return "incompatible"
        case .protocolError: return "protocol_error"
        case .io: return "io_error"
        case .timedOut: return "timeout"
        }
    }
}
