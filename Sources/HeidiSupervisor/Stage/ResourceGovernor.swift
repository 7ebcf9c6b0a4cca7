import HeidiCore

/// One reading of whole-system CPU and memory counters.
public struct SystemLoadSample: Sendable, Equatable {
    /// Cumulative CPU ticks spent busy (everything but idle and iowait) and in total, over all CPUs (`/proc/stat`).
    public var busyTicks: UInt64
    public var totalTicks: UInt64
    public var memoryTotalKB: UInt64
    public var memoryAvailableKB: UInt64

    public init(busyTicks: UInt64, totalTicks: UInt64, memoryTotalKB: UInt64, memoryAvailableKB: UInt64) {
        self.busyTicks = busyTicks
        self.totalTicks = totalTicks
        self.memoryTotalKB = memoryTotalKB
        self.memoryAvailableKB = memoryAvailableKB
    }
}

/// Where the governor's readings come from. A seam: the real one reads `/proc`, tests script the values.
public protocol SystemLoadSampler: Sendable {
    func sample() -> SystemLoadSample
    /// Seconds between the two readings of the check before a stage start (CPU% needs a real interval).
    var window: Double { get }
    /// Seconds between checks while a start is held.
    var holdInterval: Double { get }
}

/// Reads `/proc/stat` and `/proc/meminfo`.
public struct ProcSystemSampler: SystemLoadSampler {
    public let window: Double
    public let holdInterval: Double

    public init(window: Double = 0.2, holdInterval: Double = 1) {
        self.window = window
        self.holdInterval = holdInterval
    }

    public func sample() -> SystemLoadSample {
        Self.parse(
            stat: ProcessTable.readSmallFile("/proc/stat") ?? "",
            meminfo: ProcessTable.readSmallFile("/proc/meminfo") ?? ""
        )
    }

    /// The first `cpu` line of `/proc/stat` (user nice system idle iowait irq softirq steal …) and `MemTotal` /
    /// `MemAvailable` of `/proc/meminfo`.
    public static func parse(stat: String, meminfo: String) -> SystemLoadSample {
        var busy: UInt64 = 0
        var total: UInt64 = 0
        if let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) {
            // guest and guest_nice (fields 9, 10) are already counted in user and nice.
            let values = line.split(separator: " ").dropFirst().prefix(8).map { UInt64($0) ?? 0 }
            for (index, value) in values.enumerated() {
                total += value
                if index != 3 && index != 4 { busy += value }  // idle, iowait
            }
        }
        var memory: [Substring: UInt64] = [:]
        for line in meminfo.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let value = UInt64(parts[1]) { memory[parts[0]] = value }
        }
        return SystemLoadSample(
            busyTicks: busy,
            totalTicks: total,
            memoryTotalKB: memory["MemTotal:"] ?? 0,
            memoryAvailableKB: memory["MemAvailable:"] ?? 0
        )
    }
}

/// The resource governor's pure decision: may a stage start now, given two readings and the limits?
///
/// CPU% is measured between two readings taken a real interval apart (never "since boot", never a first-sample
/// zero); memory% is `1 - MemAvailable/MemTotal`. A stage is held while either is at or above its limit; a limit
/// of 100 turns that check off.
public enum ResourceGovernor {
    /// Whether any check is on (both limits at 100: no readings are taken at all).
    public static func isActive(maxCPUPercent: Double, maxMemoryPercent: Double) -> Bool {
        maxCPUPercent < 100 || maxMemoryPercent < 100
    }

    public struct Reading: Sendable, Equatable {
        /// nil when no CPU time passed between the readings (cannot judge; never holds).
        public var cpuPercent: Double?
        public var memoryPercent: Double
        /// Why the start is held, or nil if it may go.
        public var holdReason: String?

        public var mayStart: Bool { holdReason == nil }

        /// `CPU 37%, memory 52%`.
        public var summary: String {
            "CPU \(cpuPercent.map { Self.percent($0) } ?? "unknown"), memory \(Self.percent(memoryPercent))"
        }

        static func percent(_ value: Double) -> String { "\(Int(value.rounded()))%" }
    }

    public static func evaluate(
        from previous: SystemLoadSample,
        to current: SystemLoadSample,
        maxCPUPercent: Double,
        maxMemoryPercent: Double
    ) -> Reading {
        var cpu: Double?
        if current.totalTicks > previous.totalTicks {
            let busy = Double(current.busyTicks &- previous.busyTicks)
            cpu = min(100, max(0, 100 * busy / Double(current.totalTicks - previous.totalTicks)))
        }
        let memory =
            current.memoryTotalKB == 0
            ? 0
            : 100 * (1 - Double(min(current.memoryAvailableKB, current.memoryTotalKB)) / Double(current.memoryTotalKB))
        var reasons: [String] = []
        if let cpu, maxCPUPercent < 100, cpu >= maxCPUPercent {
            reasons.append("CPU \(Reading.percent(cpu)) >= max_cpu_pct \(Reading.percent(maxCPUPercent))")
        }
        if maxMemoryPercent < 100, memory >= maxMemoryPercent {
            reasons.append("memory \(Reading.percent(memory)) >= max_mem_pct \(Reading.percent(maxMemoryPercent))")
        }
        return Reading(
            cpuPercent: cpu,
            memoryPercent: memory,
            holdReason: reasons.isEmpty ? nil : reasons.joined(separator: ", ")
        )
    }
}
