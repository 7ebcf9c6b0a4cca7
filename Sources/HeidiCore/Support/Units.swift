/// Parsing of the config's human units: durations (`90`, `"90s"`, `"15m"`, `"2h"`) and sizes (`64MiB`).
public enum Units {
    /// Seconds in a duration written as a bare number of seconds or a number with `ms`, `s`, `m`, `h` or `d`.
    public static func parseDuration(_ text: String) -> Double? {
        let trimmed = text.trimmingSpaces
        let suffixes: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, factor) in suffixes where trimmed.hasSuffix(suffix) {
            let number = String(trimmed.dropLast(suffix.count)).trimmingSpaces
            // "ms" must win over "s": "5ms" is checked first; "5s" does not end in "ms".
            if suffix == "s" && trimmed.hasSuffix("ms") { continue }
            guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
            return value * factor
        }
        guard let value = Double(trimmed), value.isFinite, value >= 0 else { return nil }
        return value
    }

    /// Bytes in a size written as a bare number or with `B`, `K`/`KiB`/`KB`, `M`/`MiB`/`MB`, `G`/`GiB`/`GB`
    /// (all binary multiples, as operators mean them for log files).
    public static func parseSize(_ text: String) -> Int64? {
        let trimmed = text.trimmingSpaces
        let units: [(String, Int64)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30),
            ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1),
        ]
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            let number = String(trimmed.dropLast(suffix.count)).trimmingSpaces
            guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
            return Int64(value * Double(factor))
        }
        guard let value = Int64(trimmed), value >= 0 else { return nil }
        return value
    }

    /// A duration for humans: `850ms`, `4.2s`, `12m 5s`, `3h 2m`.
    public static func formatDuration(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        if seconds < 60 { return "\(Double(Int(seconds * 10)) / 10)s" }
        let total = Int(seconds)
        if total < 3600 { return "\(total / 60)m \(total % 60)s" }
        return "\(total / 3600)h \((total % 3600) / 60)m"
    }
}

extension String {
    var trimmingSpaces: String { trimmingCharacters(in: " \t") }
}
