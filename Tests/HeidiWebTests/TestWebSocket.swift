import Foundation
import HeidiCore
import HeidiTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A blocking WebSocket client for the end-to-end tests: `/api/v1/ws?after=SEQ`, the journal seqs of its event
/// messages, reconnecting with the last seq it saw whenever the connection ends (heidi-web restarted, or the client
/// was dropped), like a program that follows heidi-web.
struct TestWebSocket {
    let http: TestHTTP
    let headers: [(String, String)]
    /// Every event seq received, in order, across connections.
    var seqs: [UInt64] = []
    var connections = 0

    init(_ http: TestHTTP, headers: [(String, String)], seqs: [UInt64] = []) {
        self.http = http
        self.headers = headers
        self.seqs = seqs
    }

    /// Reads (and reconnects) until an event with seq `last` or later arrived, or the timeout.
    mutating func read(through last: UInt64, timeout: Double) {
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeout * 1e9)
        while (seqs.last ?? 0) < last && MonotonicClock.nanoseconds() < deadline {
            connections += 1
            readConnection(through: last, deadline: deadline)
            if (seqs.last ?? 0) < last { usleep(200_000) }
        }
    }

    private mutating func readConnection(through last: UInt64, deadline: UInt64) {
        guard let fd = try? http.connect(timeout: 1) else { return }
        defer { close(fd) }
        http.send(
            fd,
            "GET",
            "/api/v1/ws?after=\(seqs.last ?? 0)",
            headers: headers + [
                ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", "13"),
            ],
            body: ""
        )
        var data: [UInt8] = []
        var upgraded = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        while MonotonicClock.nanoseconds() < deadline && (seqs.last ?? 0) < last {
            let n = Glibc.read(fd, &buffer, buffer.count)
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { return }
            if n > 0 { data += buffer[0..<n] }
            if !upgraded {
                guard let end = data.firstRange(of: Array("\r\n\r\n".utf8)) else { continue }
                guard String(decoding: data[..<end.lowerBound], as: UTF8.self).hasPrefix("HTTP/1.1 101") else { return }
                upgraded = true
                data.removeSubrange(..<end.upperBound)
            }
            while let (opcode, payload, size) = Self.frame(data) {
                data.removeFirst(size)
                if opcode == 0x8 { return }
                let text = String(decoding: payload, as: UTF8.self)
                if text.hasPrefix("{\"type\":\"event\",\"seq\":"),
                    let seq = UInt64(text.dropFirst(22).prefix { $0.isNumber })
                {
                    seqs.append(seq)
                }
            }
        }
    }

    /// One unmasked server frame at the start of `data`: opcode, payload and its size in bytes; nil if incomplete.
    static func frame(_ data: [UInt8]) -> (UInt8, ArraySlice<UInt8>, Int)? {
        guard data.count >= 2 else { return nil }
        var length = Int(data[1] & 0x7f)
        var offset = 2
        if length == 126 {
            guard data.count >= 4 else { return nil }
            length = Int(data[2]) << 8 | Int(data[3])
            offset = 4
        } else if length == 127 {
            guard data.count >= 10 else { return nil }
            length = data[2..<10].reduce(0) { $0 << 8 | Int($1) }
            offset = 10
        }
        guard data.count >= offset + length else { return nil }
        return (data[0] & 0x0f, data[offset..<(offset + length)], offset + length)
    }
}
