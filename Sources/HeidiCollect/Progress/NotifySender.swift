#if canImport(Glibc)
import Glibc
#endif

/// Sends sd_notify-format datagrams to the progress channel heidid gives a stage (`HEIDI_NOTIFY_SOCKET`: an
/// AF_UNIX datagram socket path, or `@name` in the abstract namespace). Best effort: a send that fails (nobody
/// listening, buffer full) is dropped and never fails the run.
public final class NotifySender: Sendable {
    private let fd: Int32
    /// The raw `sockaddr_un` bytes and their length.
    private let address: [UInt8]

    /// nil when `address` is empty, too long, or no socket can be made.
    public init?(address: String) {
        let path = Array(address.utf8)
        var storage = sockaddr_un()
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard !path.isEmpty, path.count < capacity else { return nil }
        storage.sun_family = sa_family_t(AF_UNIX)
        let abstract = path[0] == UInt8(ascii: "@")
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in
            for (offset, byte) in path.enumerated() { raw[offset] = byte }
            if abstract { raw[0] = 0 } else { raw[path.count] = 0 }
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2
        // Abstract names are exactly as long as given (no terminating NUL); paths include theirs.
        let length = pathOffset + path.count + (abstract ? 0 : 1)
        self.address = withUnsafeBytes(of: &storage) { Array($0.prefix(length)) }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return nil }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Sends one datagram; false when it could not be sent. While the listener's queue is full, retries every
    /// 10 ms for up to `seconds` (0: one try; the socket never blocks).
    @discardableResult
    public func send(_ message: String, waitingUpTo seconds: Double = 0) -> Bool {
        var waited = 0.0
        while true {
            if sendOnce(message) { return true }
            guard errno == EAGAIN || errno == EWOULDBLOCK, waited < seconds else { return false }
            usleep(10_000)
            waited += 0.01
        }
    }

    private func sendOnce(_ message: String) -> Bool {
        let bytes = Array(message.utf8)
        return bytes.withUnsafeBytes { payload in
            address.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return false }
                let sockaddrPointer = base.assumingMemoryBound(to: sockaddr.self)
                var sent: Int
                repeat {
                    sent = sendto(fd, payload.baseAddress, payload.count, Int32(MSG_NOSIGNAL), sockaddrPointer, socklen_t(raw.count))
                } while sent < 0 && errno == EINTR
                return sent == payload.count
            }
        }
    }
}
