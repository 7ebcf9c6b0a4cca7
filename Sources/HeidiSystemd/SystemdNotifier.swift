import CSystemd
import HeidiCore
import HeidiSupervisor
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Sends service-manager notifications (`READY=1`, `STATUS=…`, `WATCHDOG=1`, …). A seam: tests use a recorder.
public protocol ServiceNotifier: Sendable {
    func notify(_ message: String)
}

/// `sd_notify` through libsystemd, sent by a thread of its own (a no-op when `NOTIFY_SOCKET` is unset).
///
/// `sd_notify` blocks while the service manager's socket queue is full (PID 1 busy, or stuck), and the engine
/// notifies on every transition: sending from the engine's actor would stall the pipeline, and every waiting
/// control request with it, behind PID 1. So `notify` only queues: messages go out in order, a `STATUS=` line that
/// is still queued is replaced by a newer one (the service manager shows only the last), and the sender thread exists
/// only while there is something to send (it ends after a quiet spell). `flush` waits for the queue at exit, so
/// `STOPPING=1` and the last status are delivered before the process ends.
public final class SystemdNotifier: ServiceNotifier {
    private struct Outbox {
        var messages: [String] = []
        var senderRunning = false
        /// True from taking a batch until the queue is found empty again.
        var sending = false
    }

    private let send: @Sendable (String) -> Void
    private let enabled: Bool
    private let lock = ConditionLock()
    private let outbox = Mutex(Outbox())
    /// Seconds the sender thread waits for more before it ends.
    private let quietSpell: Double

    /// Notifies the service manager named by `NOTIFY_SOCKET`; does nothing without one.
    public convenience init() {
        self.init(enabled: getenv("NOTIFY_SOCKET") != nil) { message in _ = sd_notify(0, message) }
    }

    /// A notifier that hands each message to `send` on its sender thread (tests pass a recorder).
    public init(enabled: Bool = true, quietSpell: Double = 5, send: @escaping @Sendable (String) -> Void) {
        self.enabled = enabled
        self.quietSpell = quietSpell
        self.send = send
    }

    public func notify(_ message: String) {
        guard enabled else { return }
        let startSender = lock.withLock {
            outbox.withLock { outbox -> Bool in
                if Self.isStatusOnly(message), let last = outbox.messages.last, Self.isStatusOnly(last) {
                    outbox.messages[outbox.messages.count - 1] = message
                } else {
                    outbox.messages.append(message)
                }
                defer { outbox.senderRunning = true }
                return !outbox.senderRunning
            }
        }
        if startSender {
            startThread { [self] in runSender() }
        } else {
            lock.withLock { lock.signal() }
        }
    }

    /// Waits (at most `seconds`) until every queued message has been sent.
    public func flush(seconds: Double = 1) {
        let deadline = MonotonicClock.nanoseconds() + UInt64(seconds * 1e9)
        while outbox.withLock({ !$0.messages.isEmpty || $0.sending }), MonotonicClock.nanoseconds() < deadline {
            usleep(1000)
        }
    }

    private static func isStatusOnly(_ message: String) -> Bool {
        message.hasPrefix("STATUS=") && !message.contains("\n")
    }

    private func runSender() {
        while true {
            let batch: [String] = lock.withLock {
                while true {
                    let taken = outbox.withLock { outbox -> [String]? in
                        guard !outbox.messages.isEmpty else {
                            outbox.sending = false
                            return nil
                        }
                        outbox.sending = true
                        defer { outbox.messages.removeAll(keepingCapacity: true) }
                        return outbox.messages
                    }
                    if let taken { return taken }
                    if !lock.wait(seconds: quietSpell) {
                        let idle = outbox.withLock { outbox -> Bool in
                            if outbox.messages.isEmpty { outbox.senderRunning = false }
                            return !outbox.senderRunning
                        }
                        if idle { return [] }
                    }
                }
            }
            if batch.isEmpty { return }
            for message in batch { send(message) }
        }
    }

    /// The watchdog interval systemd expects pings within (from `WATCHDOG_USEC`/`WATCHDOG_PID`), or nil.
    public static func watchdogInterval() -> Double? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return Double(usec) / 1e6
    }

    /// `CLOCK_MONOTONIC` in microseconds, for `MONOTONIC_USEC=` with `RELOADING=1`.
    public static func monotonicMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}
