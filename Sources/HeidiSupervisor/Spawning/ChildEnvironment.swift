/// The environment a stage child gets (SPEC §4): the daemon's, minus what belongs to the daemon's own service
/// manager contract, plus the stage's `env`, plus the `HEIDI_*` variables and `PYTHONUNBUFFERED=1`.
public enum ChildEnvironment {
    /// Variables that describe the daemon's relationship with systemd; a child must never act on them.
    public static let scrubbed: Set<String> = [
        "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
        "JOURNAL_STREAM",
    ]

    public static func make(
        daemon: [String: String],
        stage: [String: String],
        heidi: [String: String]
    ) -> [String: String] {
        var environment = daemon.filter { !scrubbed.contains($0.key) }
        environment.merge(stage) { _, new in new }
        environment.merge(heidi) { _, new in new }
        environment["PYTHONUNBUFFERED"] = "1"
        return environment
    }
}
