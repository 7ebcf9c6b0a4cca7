import HeidiCore

/// The engine's one stage slot: empty, an attempt not started yet (held by the resource governor or waiting out a
/// retry backoff), or the running child. One at a time by construction: a pending start and a running child can
/// never both be there.
enum StageSlot {
    case empty
    case pending(PendingStart)
    case running(CurrentStage)

    /// The running child, if the slot holds one.
    var running: CurrentStage? {
        if case .running(let stage) = self { return stage }
        return nil
    }

    /// The attempt not started yet, if the slot holds one.
    var pending: PendingStart? {
        if case .pending(let start) = self { return start }
        return nil
    }

    /// Changes the pending start in place (its governor phase); nothing when the slot holds none.
    mutating func updatePending(_ change: (inout PendingStart) -> Void) {
        guard case .pending(var start) = self else { return }
        change(&start)
        self = .pending(start)
    }
}
