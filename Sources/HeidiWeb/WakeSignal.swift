import NIOConcurrencyHelpers

/// "Something changed, look again": `notify()` wakes one waiter, or the next `wait` if none waits; repeated notifies
/// coalesce. Unlike an `AsyncStream` shared between successive child tasks, cancelling a waiter (its timeout won)
/// does not end the signal.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = NIOLockedValueBox(State())

    func notify() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns when notified, or after `nanoseconds` (nil: no timeout), or when the task is cancelled.
    func wait(timeout nanoseconds: UInt64?) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForNotify() }
            if let nanoseconds { group.addTask { try? await Task.sleep(nanoseconds: nanoseconds) } }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForNotify() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLockedValue { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }
}
