import HeidiAPI
import HeidiCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// heidictl reads the daemon's status line and header fields as bytes (`SocketReader`): what HTTP allows in them
/// must read as it did with String's splitting, lowercasing and trimming, and what is not HTTP must still be refused.
/// Each case is one canned answer from a socket that stands in for heidid.
@Suite(.serialized)
struct ResponseParsingTests {
    @Test("field names in any case and values between blanks and tabs are read; an HTTP/1.0 status line too")
    func fieldsAreReadWhateverTheirCaseAndBlanks() async throws {
        let body = try await Self.statusBody()
        let answer =
            "HTTP/1.0 200 OK\r\ncontent-TYPE:\tapplication/json \r\nX-HEIDI-API:  \(API.version)\t\r\n"
            + "CONTENT-LENGTH: \(body.utf8.count)\r\n\r\n\(body)"
        let result = try await Self.heidictlStatus(against: answer)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("state      IDLE"), "\(result)")
    }

    @Test("another API version in X-Heidi-API is refused with both versions named (exit 5)")
    func anotherAPIVersionIsRefused() async throws {
        let body = try await Self.statusBody()
        let answer = "HTTP/1.1 200 OK\r\nX-Heidi-API: 99\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        let result = try await Self.heidictlStatus(against: answer)
        #expect(result.status == 5, "\(result)")
        #expect(result.stderr.contains("speaks API v99"), "\(result)")
    }

    @Test("a field given twice counts with its later value, whatever the case of its name")
    func aRepeatedFieldCountsWithItsLaterValue() async throws {
        let body = try await Self.statusBody()
        for (first, second, status) in [("99", "\(API.version)", Int32(0)), ("\(API.version)", "99", 5)] {
            let answer =
                "HTTP/1.1 200 OK\r\nX-Heidi-API: \(first)\r\nContent-Length: \(body.utf8.count)\r\n"
                + "x-heidi-api: \(second)\r\n\r\n\(body)"
            let result = try await Self.heidictlStatus(against: answer)
            #expect(result.status == status, "\(first) then \(second): \(result)")
        }
    }

    @Test("a status line that is not HTTP/1.x with a numeric code is refused and quoted (exit 5)")
    func aBadStatusLineIsRefused() async throws {
        for line in ["HTTP/1.1 2x0 OK", "HTTP/2 200 OK", "HTTP/1.1", "hello"] {
            let result = try await Self.heidictlStatus(against: "\(line)\r\nContent-Length: 0\r\n\r\n")
            #expect(result.status == 5, "\(line): \(result)")
            #expect(result.stderr.contains("bad status line \"\(line)\""), "\(line): \(result)")
        }
    }

    /// A real status object, from a real heidid.
    private static func statusBody() async throws -> String {
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell())
        _ = try await s.startDaemon()
        let result = try await s.ctl("--json", "status")
        #expect(result.status == 0, "\(result)")
        return result.stdout.trimmingCharacters(in: "\n")
    }

    /// Runs `heidictl status` against a socket that answers one connection with `answer` and closes it.
    private static func heidictlStatus(against answer: String) async throws -> ProcessResult {
        let s = try Session()
        defer { s.tearDown() }
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(listener >= 0)
        defer { close(listener) }
        try #require(withUnixAddress(s.socket) { bind(listener, $0, $1) } == 0 && listen(listener, 1) == 0)
        let bytes = Array(answer.utf8)
        let server = Task.detached {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            var request = [UInt8](repeating: 0, count: 4096)
            _ = read(connection, &request, request.count)
            _ = bytes.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
            close(connection)
        }
        let result = try await s.ctl("status")
        await server.value
        return result
    }
}
