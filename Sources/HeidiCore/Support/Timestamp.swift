#if canImport(Glibc)
import Glibc
#endif

/// A wall-clock instant with microsecond precision, formatted as RFC 3339 UTC (`2026-11-22T06:27:39.286123Z`).
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Microseconds since the Unix epoch.
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }

    /// The current time from `CLOCK_REALTIME`.
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(microseconds: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000)
    }

    public var seconds: Int64 { microseconds >= 0 ? microseconds / 1_000_000 : (microseconds - 999_999) / 1_000_000 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.microseconds < rhs.microseconds }

    private var brokenDown: tm {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return parts
    }

    /// `2026-11-22T06:27:39.286123Z`
    public var description: String {
        let t = brokenDown
        let micros = Int(microseconds - seconds * 1_000_000)
        return "\(pad(Int(t.tm_year) + 1900, 4))-\(pad(Int(t.tm_mon) + 1, 2))-\(pad(Int(t.tm_mday), 2))T"
            + "\(pad(Int(t.tm_hour), 2)):\(pad(Int(t.tm_min), 2)):\(pad(Int(t.tm_sec), 2)).\(pad(micros, 6))Z"
    }

    /// `YYYYMMDD_HHMMSS` in UTC, the shape of run ids.
    public var compactUTC: String {
        let t = brokenDown
        return "\(pad(Int(t.tm_year) + 1900, 4))\(pad(Int(t.tm_mon) + 1, 2))\(pad(Int(t.tm_mday), 2))_"
            + "\(pad(Int(t.tm_hour), 2))\(pad(Int(t.tm_min), 2))\(pad(Int(t.tm_sec), 2))"
    }

    /// Parses the format of `description` (also accepts fewer fraction digits or none).
    public init?(parsing text: String) {
        let u = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= u.count else { return nil }
            var value = 0
            for b in u[from..<(from + count)] {
                guard (48...57).contains(b) else { return nil }
                value = value * 10 + Int(b - 48)
            }
            return value
        }
        guard u.count >= 20, u.last == UInt8(ascii: "Z"), u[4] == UInt8(ascii: "-"), u[10] == UInt8(ascii: "T"),
            let year = num(0, 4), let month = num(5, 2), let day = num(8, 2),
            let hour = num(11, 2), let minute = num(14, 2), let second = num(17, 2)
        else { return nil }
        var micros = 0
        if u[19] == UInt8(ascii: ".") {
            let digits = u.count - 21
            guard digits >= 1, digits <= 9, let fraction = num(20, digits) else { return nil }
            var scaled = fraction
            if digits < 6 { for _ in digits..<6 { scaled *= 10 } } else { for _ in 6..<digits { scaled /= 10 } }
            micros = scaled
        } else if u.count != 20 {
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let epoch = timegm(&parts)
        self.init(microseconds: Int64(epoch) * 1_000_000 + Int64(micros))
    }
}

@inline(__always)
func pad(_ value: Int, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

/// Monotonic time in nanoseconds (`CLOCK_MONOTONIC`), for elapsed times and deadlines.
public enum MonotonicClock {
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// The source of wall-clock time for the engine; tests inject a fixed or stepping clock.
public protocol WallClock: Sendable {
    func now() -> Timestamp
}

/// The system clock.
public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Timestamp { Timestamp.now() }
}

extension String {
    /// `value` in decimal, zero-padded on the left to `width` digits (`000000000042`).
    public init(zeroPadded value: Int, width: Int) { self = pad(value, width) }
}
