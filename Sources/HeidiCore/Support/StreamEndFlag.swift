import Synchronization

/// Set once an `AsyncStream`'s consumer has gone (its `onTermination` handler ran).
///
/// A termination handler can run while the Swift runtime holds the consumer task's status lock (the task is being
/// cancelled), and a producer that yields under its own lock takes that task lock when the yield resumes the
/// consumer. A handler that took the producer's lock could therefore deadlock with it (seen: heidid's status feed
/// stopped answering, SIGTERM included). So the handler only sets this flag, and the producer drops consumers
/// whose flag is set under its own lock, at its next turn.
public final class StreamEndFlag: Sendable {
    private let ended = Atomic<Bool>(false)

    public init() {}

    public func set() { ended.store(true, ordering: .releasing) }

    public var isSet: Bool { ended.load(ordering: .acquiring) }
}
