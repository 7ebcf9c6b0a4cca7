import Foundation
import HeidiCore
import HeidiTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A blocking HTTP/1.1 client over loopback TCP for the end-to-end tests: whole answers, or a stream read until
/// a condition holds.
struct TestHTTP {
    let port: Int

    struct Reply {
        var status: Int
        var head: String
        var body: String
    }

    static func basic(_ user: String, _ password: String) -> (String, String) {
        ("Authorization", "Basic " + RequestPolicyTests.base64(Array("\(user):\(password)".utf8)))
    }

    func connect(timeout: Int = 10) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            close(fd)
            throw HarnessError("connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    func send(_ fd: Int32, _ method: String, _ path: String, headers: [(String, String)], body: String) {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if method == "POST" { text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + body
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// A complete request (`Connection: close`, read to the end). Chunked bodies are de-chunked.
    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: String = "") throws -> Reply
    {
        let fd = try connect()
        defer { close(fd) }
        send(fd, method, path, headers: headers, body: body)
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        return try Self.parse(data)
    }

    static func parse(_ data: [UInt8]) throws -> Reply {
        let text = String(decoding: data, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else {
            throw HarnessError("no complete answer: \(text.prefix(200))")
        }
        let head = String(text[..<split.lowerBound])
        var body = String(text[split.upperBound...])
        if head.lowercased().contains("transfer-encoding: chunked") { body = dechunk(body) }
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        return Reply(status: status, head: head, body: body)
    }

    static func dechunk(_ text: String) -> String {
        var out = ""
        var rest = text[...]
        while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 {
            let start = lineEnd.upperBound
            let utf8 = rest.utf8
            guard let end = utf8.index(start, offsetBy: size, limitedBy: utf8.endIndex) else { break }
            out += String(rest[start..<end])
            rest = rest[end...].dropFirst(2)
        }
        return out
    }

    /// Opens a stream (SSE) and reads until `done` says so over what arrived (raw, still chunked), or the timeout.
    func stream(
        _ path: String,
        headers: [(String, String)],
        timeout: Double,
        until done: (String) -> Bool
    ) throws -> String {
        let fd = try connect(timeout: 1)
        defer { close(fd) }
        send(fd, "GET", path, headers: headers, body: "")
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeout * 1e9)
        while MonotonicClock.nanoseconds() < deadline {
            let n = read(fd, &buffer, buffer.count)
            if n == 0 { break }
            if n > 0 { data += buffer[0..<n] }
            if done(String(decoding: data, as: UTF8.self)) { break }
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The `id:` values of SSE journal events in a (raw) stream text, in order.
    static func eventIDs(_ text: String) -> [UInt64] {
        // By bytes: "\r\n" (a chunk-size line's end) is one Character, so a String split on "\n" would miss it.
        text.utf8.split(separator: 0x0a).compactMap { bytes in
            let line = String(decoding: bytes, as: UTF8.self)
            return line.hasPrefix("id: ") ? UInt64(line.dropFirst(4).prefix { $0.isNumber }) : nil
        }
    }
}
