/// At most `limit` holders at once; the others wait in arrival order. A waiter whose task is cancelled leaves the
/// queue at once with `CancellationError`.
actor ConcurrencyLimiter {
    let limit: Int
    private var holders = 0
    private var waiters: [(ticket: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextTicket: UInt64 = 0
    /// The most holders seen at once (for tests and reports).
    private(set) var peakHolders = 0

    init(limit: Int) { self.limit = max(1, limit) }

    /// Runs `body` while holding one of the `limit` permits.
    nonisolated func withPermit<T: Sendable>(_ body: @Sendable () async -> T) async throws(CancellationError) -> T {
        try await acquire()
        let result = await body()
        await release()
        return result
    }

    func acquire() async throws(CancellationError) {
        if Task.isCancelled { throw CancellationError() }
        if holders < limit {
            holders += 1
            peakHolders = max(peakHolders, holders)
            return
        }
        let ticket = nextTicket
        nextTicket += 1
        do {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    // Cancelled before queueing: `cancel` may already have run and found nothing to cancel.
                    if Task.isCancelled {
                        continuation.resume(throwing: CancellationError())
                    } else {
                        waiters.append((ticket, continuation))
                    }
                }
            } onCancel: {
                Task { await self.cancel(ticket) }
            }
        } catch {
            throw CancellationError()
        }
    }

    /// Gives the permit to the first waiter, or back to the pool.
    func release() {
        if waiters.isEmpty {
            holders -= 1
        } else {
            // The permit passes straight on: `holders` stays the same.
            waiters.removeFirst().continuation.resume()
        }
    }

    private func cancel(_ ticket: UInt64) {
        // Not queued: it holds a permit already, or it saw the cancellation before queueing.
        guard let index = waiters.firstIndex(where: { $0.ticket == ticket }) else { return }
        waiters.remove(at: index).continuation.resume(throwing: CancellationError())
    }
}
