#if canImport(Glibc)
import Glibc
#endif

/// What Slurm says about one job, from `squeue`, `scontrol show job` or `sacct` (fields a source lacks are nil).
public struct SlurmJobInfo: Sendable, Equatable {
    public var id: String
    public var name: String?
    public var state: SlurmJobState
    /// `n[1-2]`; nil while pending (Slurm prints `(null)` or nothing).
    public var nodes: String?
    /// Why it is pending or ended (`Resources`, `BeginTime`, `NonZeroExitCode`); nil for `None`.
    public var reason: String?
    /// Slurm's timestamps as it prints them (`2026-12-07T06:40:31`, local time); nil when unknown.
    public var submitTime: String?
    public var startTime: String?
    public var endTime: String?
    /// The batch script's exit status (`ExitCode=3:0` is code 3; `0:9` is signal 9).
    public var exitCode: Int?
    public var signal: Int?
    /// How often Slurm requeued the job (`Restarts=`, scontrol only).
    public var restarts: Int?

    public init(
        id: String,
        name: String? = nil,
        state: SlurmJobState,
        nodes: String? = nil,
        reason: String? = nil,
        submitTime: String? = nil,
        startTime: String? = nil,
        endTime: String? = nil,
        exitCode: Int? = nil,
        signal: Int? = nil,
        restarts: Int? = nil
    ) {
        self.id = id
        self.name = name
        self.state = state
        self.nodes = nodes
        self.reason = reason
        self.submitTime = submitTime
        self.startTime = startTime
        self.endTime = endTime
        self.exitCode = exitCode
        self.signal = signal
        self.restarts = restarts
    }

    /// Seconds from submission to start (or to now while pending), from Slurm's own timestamps.
    public func pendingSeconds(now: Int64) -> Double? {
        guard let submit = SlurmTime.epoch(submitTime) else { return nil }
        return Double(max(0, (SlurmTime.epoch(startTime) ?? now) - submit))
    }

    /// Seconds from start to end (or to now while running), from Slurm's own timestamps.
    public func runningSeconds(now: Int64) -> Double? {
        guard let start = SlurmTime.epoch(startTime), start <= now else { return nil }
        return Double(max(0, (SlurmTime.epoch(endTime) ?? now) - start))
    }
}

/// Slurm's `YYYY-MM-DDTHH:MM:SS` timestamps (local time) as seconds since the epoch.
public enum SlurmTime {
    /// Nil for `Unknown`, `N/A`, `None` and anything else that is not a timestamp.
    public static func epoch(_ text: String?) -> Int64? {
        guard let text else { return nil }
        let parts = text.split(whereSeparator: { "-T:".contains($0) }).map { Int($0) }
        guard parts.count == 6, parts.allSatisfy({ $0 != nil }) else { return nil }
        let v = parts.map { $0 ?? 0 }
        var moment = tm()
        moment.tm_year = Int32(v[0] - 1900)
        moment.tm_mon = Int32(v[1] - 1)
        moment.tm_mday = Int32(v[2])
        moment.tm_hour = Int32(v[3])
        moment.tm_min = Int32(v[4])
        moment.tm_sec = Int32(v[5])
        moment.tm_isdst = -1
        let seconds = mktime(&moment)
        return seconds < 0 ? nil : Int64(seconds)
    }
}
