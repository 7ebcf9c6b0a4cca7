import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Sends service-manager notifications (`READY=1`, `STATUS=…`, `WATCHDOG=1`, …). A seam: tests use a recorder.
public protocol ServiceNotifier: Sendable {
    func notify(_ message: String)
}

/// `sd_notify` through libsystemd (a no-op when `NOTIFY_SOCKET` is unset).
public struct SystemdNotifier: ServiceNotifier {
    public init() {}

    public func notify(_ message: String) {
        _ = sd_notify(0, message)
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
