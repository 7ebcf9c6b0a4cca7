import HeidiCore
import HeidiJournal

/// Where the engine is in its life. The journal exists from `open()` on, and stays (closed) after shutdown, so
/// status still shows its head; it is never there while the engine is ready without it.
enum EngineLifecycle {
    /// Until the control socket listens (`markReady`): the journal is nil until `open()` has opened it.
    case opening(journal: Journal?)
    /// `READY=1` was sent: actions are taken.
    case ready(journal: Journal)
    /// `shutdown` is stopping the stage and closing the journal: actions are refused (nil journal: `open()` failed).
    case stopping(journal: Journal?)
    /// Shut down: the journal and the state-directory lock are closed.
    case closed(journal: Journal?)

    var journal: Journal? {
        switch self {
        case .opening(let journal), .stopping(let journal), .closed(let journal): return journal
        case .ready(let journal): return journal
        }
    }

    /// `READY=1` was sent and no shutdown began.
    var isReady: Bool {
        if case .ready = self { return true }
        return false
    }

    /// A shutdown began (or is done).
    var isShuttingDown: Bool {
        switch self {
        case .stopping, .closed: return true
        case .opening, .ready: return false
        }
    }
}
