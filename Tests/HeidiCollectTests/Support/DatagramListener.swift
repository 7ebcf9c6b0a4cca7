#if canImport(Glibc)
import Glibc
#endif

/// A bound AF_UNIX datagram socket standing in for heidid's progress channel.
final class DatagramListener {
    let address: String
    private let fd: Int32

    /// Binds `address`: a path, or `@name` for the abstract namespace.
    init(address: String) throws {
        self.address = address
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(errno)") }
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        let path = Array(address.utf8)
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in
            for (offset, byte) in path.enumerated() { raw[offset] = byte }
            if path.first == UInt8(ascii: "@") { raw[0] = 0 }
        }
        let length =
            (MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2) + path.count
            + (path.first == UInt8(ascii: "@") ? 0 : 1)
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard rc == 0 else { throw HarnessError("bind \(address): \(String(cString: strerror(errno)))") }
        var bufferSize: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufferSize, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit {
        close(fd)
        if !address.hasPrefix("@") { unlink(address) }
    }

    /// Every datagram queued so far, without waiting.
    func drain() -> [String] {
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n < 0 { break }
            messages.append(String(decoding: buffer[0..<n], as: UTF8.self))
        }
        return messages
    }
}
