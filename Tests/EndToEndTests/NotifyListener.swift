import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// The service manager's side of sd_notify: an `AF_UNIX` datagram socket the test binds and reads.
final class NotifyListener {
    let path: String
    private let fd: Int32
    /// Every datagram received so far, in order.
    private(set) var received: [String] = []

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        guard withUnixAddress(path, { bind(fd, $0, $1) }) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw HarnessError("bind \(path): \(reason)")
        }
    }

    deinit { close(fd) }

    /// Receives datagrams until one satisfies `match` (at most `timeout` seconds); returns it, or nil. Polls
    /// without blocking and sleeps in between, so a waiting test holds no thread of the cooperative pool.
    func next(timeout: Double, where match: (String) -> Bool) async -> String? {
        let deadline = Clock.seconds() + timeout
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Clock.seconds() < deadline {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard n > 0 else {  // nothing yet (EAGAIN), or EINTR
                try? await Task.sleep(nanoseconds: 10_000_000)
                continue
            }
            let message = String(decoding: buffer[0..<n], as: UTF8.self)
            received.append(message)
            if match(message) { return message }
        }
        return nil
    }

    /// Whether a datagram has the assignment `line` (e.g. `READY=1`) on a line of its own.
    static func has(_ message: String, _ line: String) -> Bool {
        message.split(separator: "\n").contains { $0 == line }
    }

    /// The value of `NAME=` in a datagram.
    static func value(_ name: String, in message: String) -> String? {
        message.split(separator: "\n").first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
    }

    /// All `STATUS=` values received so far, in order.
    var statuses: [String] { received.compactMap { Self.value("STATUS", in: $0) } }
}

/// A raw HTTP/1.1 GET over the control socket from inside the test process (no heidictl, so no spawn delay):
/// the status code and the body, or nil when the socket does not accept the connection. The blocking exchange runs
/// off the cooperative pool.
func controlGet(socket path: String, _ target: String) async -> (status: Int, body: String)? {
    await Blocking.run { controlGetBlocking(socket: path, target) }
}

private func controlGetBlocking(socket path: String, _ target: String) -> (status: Int, body: String)? {
    guard case .success(let fd) = UnixSocket.connect(path) else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let request = Array("GET \(target) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
    guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
        return nil
    }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        response += buffer[0..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard text.hasPrefix("HTTP/1.1 "), let code = Int(text.dropFirst(9).prefix(3)) else { return nil }
    let body = text.firstRange(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
    return (code, body)
}
