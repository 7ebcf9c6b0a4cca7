import HeidiCore
import Synchronization

/// How a followed stage log ended, sent to the client as the `X-Heidi-Stage-End` trailer of a followed
/// `GET /api/v1/logs`, so `heidictl logs -f` can end with an exit status that says how.
public enum StageLogEnding: Sendable, Equatable {
    /// The stage's last attempt ended; `description` as in its `stage_end` event (`exit 0`, `killed by signal 9`).
    case succeeded(String)
    case failed(String)
    case timedOut(String)
    /// Stopped by the operator (or the daemon's shutdown).
    case interrupted(String)
    /// The run ended (or was never running) without this stage running in it.
    case notRun(String)

    /// `success|failed|timeout|interrupted|not_run; <description>`.
    public var trailer: String {
        switch self {
        case .succeeded(let text): return "success; \(text)"
        case .failed(let text): return "failed; \(text)"
        case .timedOut(let text): return "timeout; \(text)"
        case .interrupted(let text): return "interrupted; \(text)"
        case .notRun(let text): return "not_run; \(text)"
        }
    }
}

/// Fans stage output out to live followers (`GET /api/v1/logs?follow=1`), in order, from the pipe reader threads,
/// and ends them when their stage (or the run) ends.
///
/// A follower first reads the log file at its own pace (`StageLogFeed`); only when it has read everything does it
/// subscribe, and `subscribe` decides under the same lock as `publish` (which appends to the file), so no line is
/// lost or doubled between the file and the live feed, and a follower's backlog is never held in memory.
/// Backpressure without slowing the stage: each follower has a queue the HTTP writer pulls from as fast as the
/// client reads. A follower more than `capacity` bytes behind skips whole batches, and when it catches up it gets
/// one marker line saying how many lines it missed (the log file has all of them). The stage never waits for a
/// follower, and a slow follower cannot make the daemon's memory grow past `capacity` per follower.
final class LogBroadcaster: Sendable {
    private struct Follower {
        var path: String
        weak var queue: FollowerQueue?
    }

    private struct State {
        var next = 0
        var followers: [Int: Follower] = [:]
        /// Logs of the current run whose stage has ended, with how.
        var ended: [String: StageLogEnding] = [:]
        /// A run is active: a follower of a log that has not ended waits for its stage.
        var runActive = false
        var runEnding = "no run is active"
    }

    /// What a follower that has read the file up to its end gets.
    enum Subscription {
        /// Live output follows in this queue.
        case live(FollowerQueue)
        /// The file has grown since: read on.
        case behind
        /// No more output will come.
        case ended(StageLogEnding)
    }

    private let state = Mutex(State())
    let capacity: Int
    /// Lines skipped for slow followers since start (for `/metrics`).
    let skippedLines = Atomic<Int>(0)

    init(capacity: Int = 8 << 20) { self.capacity = capacity }

    /// Subscribes a follower of the log at `path` that has read the file up to where `caughtUp` (called under the
    /// lock, so no append runs meanwhile) says whether that is its end.
    func subscribe(path: String, caughtUp: () -> Bool) -> Subscription {
        state.withLock { state in
            guard caughtUp() else { return .behind }
            if let ending = state.ended[path] { return .ended(ending) }
            guard state.runActive else { return .ended(.notRun(state.runEnding)) }
            let queue = FollowerQueue(capacity: capacity)
            state.next += 1
            state.followers[state.next] = Follower(path: path, queue: queue)
            return .live(queue)
        }
    }

    /// Runs `write` (the log file append) and hands the lines to the followers of `path`, atomically with respect
    /// to `subscribe`.
    func publish(_ bytes: [UInt8], lines: Int, path: String, write: () -> Void) {
        state.withLock { state in
            write()
            var gone: [Int] = []
            for (id, follower) in state.followers {
                guard let queue = follower.queue else {
                    gone.append(id)
                    continue
                }
                guard follower.path == path else { continue }
                if !queue.push(bytes, lines: lines, backlog: false) { skippedLines.add(lines, ordering: .relaxed) }
            }
            for id in gone { state.followers.removeValue(forKey: id) }
        }
    }

    /// The stage writing `path` has ended for good (no retry follows): its followers end after what they have.
    func end(path: String, _ ending: StageLogEnding) {
        let queues = state.withLock { state -> [FollowerQueue] in
            state.ended[path] = ending
            return removeFollowers(&state) { $0.path == path }
        }
        for queue in queues { queue.finish(ending) }
    }

    /// Whether a run is active (called on every status change). When a run ends, the followers of stages that
    /// did not run in it end too; when a new one starts, the previous run's endings are forgotten.
    func setRunActive(_ active: Bool, runEnding: @autoclosure () -> String) {
        let (queues, ending) = state.withLock { state -> ([FollowerQueue], StageLogEnding) in
            let ending = StageLogEnding.notRun(state.runEnding)
            guard state.runActive != active else { return ([], ending) }
            state.runActive = active
            if active {
                state.ended = [:]
                return ([], ending)
            }
            state.runEnding = runEnding()
            return (removeFollowers(&state) { _ in true }, .notRun(state.runEnding))
        }
        for queue in queues { queue.finish(ending) }
    }

    /// Ends every follower without an ending (the daemon is shutting down: followers reconnect).
    func finishAll() {
        let queues = state.withLock { state in removeFollowers(&state) { _ in true } }
        for queue in queues { queue.finish(nil) }
    }

    private func removeFollowers(_ state: inout State, where matches: (Follower) -> Bool) -> [FollowerQueue] {
        var queues: [FollowerQueue] = []
        for (id, follower) in state.followers where matches(follower) {
            state.followers.removeValue(forKey: id)
            if let queue = follower.queue { queues.append(queue) }
        }
        return queues
    }
}

/// One follower's bounded queue of output chunks, with gaps where it fell behind.
final class FollowerQueue: Sendable {
    private enum Entry {
        case chunk([UInt8])
        case gap(lines: Int)
    }

    private struct State {
        var entries: [Entry] = []
        var head = 0
        var bytes = 0
        var finished = false
        var ending: StageLogEnding?
        var waiter: CheckedContinuation<[UInt8]?, Never>?
    }

    private let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) { self.capacity = capacity }

    /// Queues a chunk. Chunks beyond `capacity` are dropped and remembered as a gap; returns false then.
    @discardableResult
    func push(_ bytes: [UInt8], lines: Int, backlog: Bool = false) -> Bool {
        let (accepted, waiter) = state.withLock { state -> (Bool, CheckedContinuation<[UInt8]?, Never>?) in
            guard !state.finished else { return (true, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (true, waiter)
            }
            if state.bytes + bytes.count > capacity {
                if case .gap(let count)? = state.entries.last, state.entries.count > state.head {
                    state.entries[state.entries.count - 1] = .gap(lines: count + lines)
                } else {
                    state.entries.append(.gap(lines: lines))
                }
                return (false, nil)
            }
            state.entries.append(.chunk(bytes))
            state.bytes += bytes.count
            return (true, nil)
        }
        waiter?.resume(returning: bytes)
        return accepted
    }

    /// Ends the queue after what it holds; `ending` says how the stage ended (nil: the daemon is going away).
    func finish(_ ending: StageLogEnding? = nil) {
        let waiter = state.withLock { state -> CheckedContinuation<[UInt8]?, Never>? in
            guard !state.finished else { return nil }
            state.finished = true
            state.ending = ending
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// How the stage ended, once the queue is finished.
    var ending: StageLogEnding? { state.withLock { $0.ending } }

    /// Bytes queued now (for tests).
    var queuedBytes: Int { state.withLock { $0.bytes } }

    /// The next chunk (or gap marker), waiting for one; nil once finished and drained.
    func next() async -> [UInt8]? {
        await withCheckedContinuation { (continuation: CheckedContinuation<[UInt8]?, Never>) in
            let ready = state.withLock { state -> [UInt8]?? in
                if state.head < state.entries.count {
                    let entry = state.entries[state.head]
                    state.head += 1
                    if state.head > 256 || state.head == state.entries.count {
                        state.entries.removeFirst(state.head)
                        state.head = 0
                    }
                    switch entry {
                    case .chunk(let bytes):
                        state.bytes -= bytes.count
                        return .some(bytes)
                    case .gap(let lines):
                        return .some(
                            Array(
                                "…[heidid: \(lines) line\(lines == 1 ? "" : "s") skipped: this follower fell behind; the log file has every line]\n"
                                    .utf8
                            )
                        )
                    }
                }
                if state.finished { return .some(nil) }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
