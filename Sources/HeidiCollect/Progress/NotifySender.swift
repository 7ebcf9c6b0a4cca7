import CHeidiShim

#if canImport(Glibc)
import Glibc
#endif

/// Sends sd_notify-format datagrams to the progress channel heidid gives a stage (`HEIDI_NOTIFY_SOCKET`: an
/// AF_UNIX datagram socket path, or `@name` in the abstract namespace). Best effort: a send that fails (nobody
/// listening, buffer full) is dropped and never fails the run.
public final class NotifySender: Sendable {
    private let fd: Int32

    /// nil when `address` is empty, too long, or nobody listens there.
    public init?(address: String) {
        // The same address forms heidid binds (CHeidiShim): a path, or '@' for the abstract namespace.
        let fd = heidi_connect_datagram(address)
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
        var sent: Int
        repeat {
            sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        } while sent < 0 && errno == EINTR
        return sent == bytes.count
    }
}
