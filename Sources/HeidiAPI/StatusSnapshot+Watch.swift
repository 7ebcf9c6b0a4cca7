import HeidiCore

extension StatusSnapshot {
    /// The snapshot without what moves on its own (time stamps, the child's clock and progress): two snapshots
    /// with equal keys show the same change. `GET /api/v1/status?watch=1` sends one document per key, and
    /// `heidictl status --watch` prints one per key (also across a reconnect).
    public var watchKey: StatusSnapshot {
        var key = self
        key.updatedAt = ""
        key.child?.elapsedSeconds = 0
        key.child?.status = nil
        key.child?.counters = nil
        key.child?.usage = nil
        return key
    }
}
