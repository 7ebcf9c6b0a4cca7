import HeidiAPI
import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// Why heidictl could not talk to the daemon; each maps to an exit code and names the socket.
enum ClientError: Error, CustomStringConvertible {
    case noSocket(String)
    case staleSocket(String)
    /// The path, and a description of its owner, group and mode (or of the directory that blocks it).
    case permissionDenied(String, FileOwnership.Blocker)
    /// The daemon speaks another API version.
    case incompatible(String)
    case protocolError(String)
    case io(String)
    /// Nothing arrived from the daemon for `readTimeout` seconds.
    case timedOut(String)

    var description: String {
        switch self {
        case .noSocket(let path):
            return
                "heidid is not running: no control socket at \(path) (start it with 'systemctl start heidi'; for a heidid "
                + "started with another --state-dir, or with --socket or --runtime-dir and no --config, pass its socket with --socket "
                + "or $HEIDI_SOCKET)"
        case .staleSocket(let path):
            return
                "heidid is not running: \(path) exists but nothing accepts connections (stale socket from a stopped daemon)"
        case .permissionDenied(let path, let blocker):
            return "permission denied on \(path) (\(blocker.detail)): \(FileOwnership.advice(blocker))"
        case .incompatible(let message): return message
        case .protocolError(let message): return "unexpected answer from heidid: \(message)"
        case .io(let message): return message
        case .timedOut(let path): return "no answer from heidid at \(path) in time"
        }
    }

    var exitCode: Int32 {
        switch self {
        case .noSocket, .staleSocket: return 3
        case .permissionDenied: return 4
        case .protocolError, .io, .incompatible, .timedOut: return 5
        }
    }
}

/// The environment a configuration is read with. Not a `[String: String]?`: destroying that optional goes through
/// its type's value witnesses, and building the type checks `String: Hashable` against all ~4,000 conformance
/// records of the binary, once per process, in every `heidictl status --socket` that never reads the environment.
enum ConfigEnvironment {
    /// The process's environment, read when needed.
    case process
    case given([String: String])

    var variables: [String: String] {
        switch self {
        case .process: return ProcessEnvironment.current()
        case .given(let variables): return variables
        }
    }
}

/// An HTTP response read off the socket.
struct HTTPReply {
    var status: Int
    var body: [UInt8]
}

/// A small blocking HTTP/1.1 client over a Unix socket: one request per connection, no event loop, so a
/// `heidictl status` costs a connect, a write and a read.
struct UnixHTTPClient {
    let socketPath: String
    /// The configuration whose `control.group` a permission error explains (read only then).
    var configPath: String? = nil
    /// The environment that configuration is read with: the process's, read only when a permission error is
    /// explained (building it is a tenth of a `heidictl status --socket`, which needs nothing from it otherwise).
    var environment: ConfigEnvironment = .process
    /// Seconds a read may wait for the daemon before it fails with `ClientError.timedOut`; nil waits for ever.
    var readTimeout: Double? = nil

    func request(_ method: String, _ path: String, body: [UInt8]? = nil) throws(ClientError) -> HTTPReply {
        var reply = HTTPReply(status: 0, body: [])
        reply.status = try stream(method, path, body: body) { _, chunk in reply.body += chunk }.status
        return reply
    }

    /// Sends a request and calls `onChunk` with the status and body bytes as they arrive (for followed streams),
    /// until the body ends or `enough` says so after a chunk (the connection is then closed). Returns the status, the
    /// headers and the trailers of a chunked body (names lower case).
    @discardableResult
    func stream(
        _ method: String,
        _ path: String,
        body: [UInt8]? = nil,
        onHeaders: (Int, HTTPFields) -> Void = { _, _ in },
        enough: () -> Bool = { false },
        onChunk: (Int, [UInt8]) -> Void
    ) throws(ClientError) -> (status: Int, headers: HTTPFields, trailers: HTTPFields) {
        let fd = try connectSocket()
        defer { close(fd) }
        if let readTimeout {
            let seconds = max(readTimeout, 0.001)
            var limit = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUser-Agent: heidictl\r\n"
        if let body {
            head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        } else if method == "POST" {
            head += "Content-Length: 0\r\n"
        }
        head += "\r\n"
        try writeAll(fd, Array(head.utf8) + (body ?? []))
        var reader = SocketReader(fd: fd, socketPath: socketPath)
        let statusLine = try reader.lineBytes()
        guard let status = SocketReader.statusCode(statusLine) else {
            throw .protocolError("bad status line \"\(String(decoding: statusLine, as: UTF8.self))\"")
        }
        var length: Int?
        var chunked = false
        let headers = try reader.fields()
        if let value = headers["content-length"] { length = Int(value) }
        if let value = headers["transfer-encoding"], value.lowercased().contains("chunked") { chunked = true }
        if let apiVersion = headers["x-heidi-api"], apiVersion != String(API.version) {
            throw .incompatible(
                "heidid at \(socketPath) speaks API v\(apiVersion); this heidictl speaks v\(API.version): use the heidictl that came with the installed heidid"
            )
        }
        onHeaders(status, headers)
        if chunked {
            while true {
                let sizeLine = try reader.line()
                guard let size = Int(sizeLine.split(separator: ";").first.map(String.init) ?? "", radix: 16) else {
                    throw .protocolError("bad chunk size \"\(sizeLine)\"")
                }
                if size == 0 { return (status, headers, try reader.fields()) }
                onChunk(status, try reader.bytes(size))
                if enough() { return (status, headers, HTTPFields()) }
                _ = try reader.line()
            }
        } else if let length {
            onChunk(status, try reader.bytes(length))
        } else {
            while !enough(), let chunk = try reader.some() { onChunk(status, chunk) }
        }
        return (status, headers, HTTPFields())
    }

    private func connectSocket() throws(ClientError) -> Int32 {
        switch UnixSocket.connect(socketPath) {
        case .success(let fd): return fd
        case .failure(let error):
            switch error.errno {
            case ENOENT, ENOTDIR: throw .noSocket(socketPath)
            case ECONNREFUSED: throw .staleSocket(socketPath)
            case EACCES, EPERM:
                var blocker = FileOwnership.describeBlocker(of: socketPath)
                // Only a configuration file that names this socket describes the daemon behind it.
                let environment = self.environment.variables
                if ConfigLoader.configPath(explicit: configPath, environment: environment) != nil,
                    let config = try? ConfigLoader.load(path: configPath, environment: environment),
                    config.socketPath == socketPath,
                    let group = config.controlGroup
                {
                    blocker.controlGroup = FileOwnership.ConfiguredGroup(name: group, source: config.source)
                }
                throw .permissionDenied(socketPath, blocker)
            case ENAMETOOLONG: throw .io("control socket path is too long (max 107 bytes): \(socketPath)")
            default: throw .io("cannot connect to \(socketPath): \(errnoDescription(error.errno))")
            }
        }
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(ClientError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                raw.baseAddress.map { send(fd, $0 + offset, raw.count - offset, Int32(MSG_NOSIGNAL)) } ?? 0
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("writing to \(socketPath): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }
}

/// The header or trailer fields of a response, by lower-case name (a later field replaces an earlier one).
///
/// Kept as names and values in one `[String]`, not a `[String: String]`: the first use of a generic type in a
/// process makes the Swift runtime build its metadata from a mangled name and look up its conformances (~8 µs each
/// here), and `heidictl status` needs no other dictionary, while `[String]` it has anyway, for its arguments. A
/// response has a handful of fields, so a linear search costs nothing.
struct HTTPFields {
    private var namesAndValues: [String] = []

    subscript(name: String) -> String? { nameIndex(name).map { namesAndValues[$0 + 1] } }

    mutating func set(_ name: String, _ value: String) {
        if let index = nameIndex(name) { namesAndValues[index + 1] = value } else { namesAndValues += [name, value] }
    }

    private func nameIndex(_ name: String) -> Int? {
        stride(from: 0, to: namesAndValues.count, by: 2).first { namesAndValues[$0] == name }
    }
}

/// Buffered reads from a socket.
struct SocketReader {
    let fd: Int32
    /// Named in a timeout.
    let socketPath: String
    private var buffer: [UInt8] = []
    private var position = 0
    private var eof = false

    init(fd: Int32, socketPath: String) {
        self.fd = fd
        self.socketPath = socketPath
    }

    private mutating func fill() throws(ClientError) -> Bool {
        if eof { return false }
        if position > 0 {
            buffer.removeFirst(position)
            position = 0
        }
        while true {
            // Read into uninitialised capacity: zeroing 64 KiB first touched 16 pages (16 page faults, a tenth of
            // a `heidictl status`) for the kilobyte a status answer takes.
            var failure: Int32 = 0
            let chunk = [UInt8](unsafeUninitializedCapacity: Self.chunkSize) { storage, count in
                let n = read(fd, storage.baseAddress, storage.count)
                failure = n < 0 ? errno : 0
                count = max(n, 0)
            }
            if failure == EINTR { continue }
            if failure == EAGAIN || failure == EWOULDBLOCK { throw .timedOut(socketPath) }
            if failure != 0 { throw .io("reading from heidid: \(String(cString: strerror(failure)))") }
            if chunk.isEmpty {
                eof = true
                return false
            }
            if buffer.isEmpty { buffer = chunk } else { buffer += chunk }
            return true
        }
    }

    /// The most one read takes in.
    static let chunkSize = 64 * 1024

    mutating func line() throws(ClientError) -> String { String(decoding: try lineBytes(), as: UTF8.self) }

    /// The next line without its line end. The status line and the fields are read as bytes: String's Unicode-aware
    /// splitting, lowercasing and trimming cost a short-lived `heidictl status` more page faults and protocol
    /// conformance lookups than its whole parse.
    mutating func lineBytes() throws(ClientError) -> ArraySlice<UInt8> {
        while true {
            if let newline = buffer[position...].firstIndex(of: 0x0a) {
                var end = newline
                if end > position, buffer[end - 1] == 0x0d { end -= 1 }
                defer { position = newline + 1 }
                return buffer[position..<end]
            }
            guard try fill() else { throw .protocolError("connection closed mid-response") }
        }
    }

    /// Header (or trailer) fields up to the empty line: names lower case, values without surrounding blanks.
    mutating func fields() throws(ClientError) -> HTTPFields {
        var fields = HTTPFields()
        while true {
            let line = try lineBytes()
            if line.isEmpty { return fields }
            guard let field = line.withUnsafeBytes(HTTPFieldLine.init) else { continue }
            fields.set(field.name, field.value)
        }
    }

    /// The code of an `HTTP/1.x` status line; nil when the line is not one.
    static func statusCode(_ line: ArraySlice<UInt8>) -> Int? {
        guard line.starts(with: "HTTP/1.".utf8), let space = line.firstIndex(of: UInt8(ascii: " ")) else { return nil }
        let digits = line[(space + 1)...].prefix { $0 != UInt8(ascii: " ") }
        guard (1...9).contains(digits.count), digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    mutating func bytes(_ count: Int) throws(ClientError) -> [UInt8] {
        while buffer.count - position < count {
            guard try fill() else { throw .protocolError("connection closed mid-body") }
        }
        defer { position += count }
        return Array(buffer[position..<(position + count)])
    }

    mutating func some() throws(ClientError) -> [UInt8]? {
        if position < buffer.count {
            defer { position = buffer.count }
            return Array(buffer[position...])
        }
        guard try fill() else { return nil }
        return try some()
    }
}
