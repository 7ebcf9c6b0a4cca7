import HeidiCore
import Synchronization

/// Fans stage output out to live followers (`GET /api/v1/logs?follow=1`), in order, from the pipe reader threads.
///
/// Backpressure without slowing the stage: each follower has a queue the HTTP writer pulls from as fast as the
/// client reads. A follower more than `capacity` bytes behind skips whole batches, and when it catches up it gets
/// one marker line saying how many lines it missed (the log file has all of them). The stage never waits for a
/// follower, and a slow follower cannot make the daemon's memory grow past `capacity` per follower.
final class LogBroadcaster: Sendable {
    private struct Follower {
        var stage: Stage
        var round: Int?
        weak var queue: FollowerQueue?
    }

    private let state = Mutex<(next: Int, followers: [Int: Follower])>((0, [:]))
    let capacity: Int
    /// Lines skipped for slow followers since start (for `/metrics`).
    let skippedLines = Atomic<Int>(0)

    init(capacity: Int = 8 << 20) { self.capacity = capacity }

    /// A stream of output of `stage` (in `round`, or any round when nil), as chunks of whole lines: first what
    /// `backlog` returns (read under the lock, so no line is lost or doubled between the file and the live feed),
    /// then live output.
    func follow(stage: Stage, round: Int?, backlog: () -> [[UInt8]]) -> AsyncStream<[UInt8]> {
        let queue = FollowerQueue(capacity: capacity)
        state.withLock { state in
            for chunk in backlog() { queue.push(chunk, lines: 0, backlog: true) }
            state.next += 1
            state.followers[state.next] = Follower(stage: stage, round: round, queue: queue)
        }
        // The stream owns the queue; when the HTTP side lets go of the stream, the follower disappears.
        return AsyncStream(unfolding: { await queue.next() }, onCancel: { queue.finish() })
    }

    /// Runs `write` (the log file append) and hands the lines to followers, atomically with respect to `follow`.
    func publish(_ bytes: [UInt8], lines: Int, stage: Stage, round: Int, write: () -> Void) {
        state.withLock { state in
            write()
            var gone: [Int] = []
            for (id, follower) in state.followers {
                guard let queue = follower.queue else { gone.append(id); continue }
                guard follower.stage == stage && (follower.round == nil || follower.round == round) else { continue }
                if !queue.push(bytes, lines: lines, backlog: false) { skippedLines.add(lines, ordering: .relaxed) }
            }
            for id in gone { state.followers.removeValue(forKey: id) }
        }
    }

    func finishAll() {
        let all = state.withLock { state in
            defer { state.followers = [:] }
            return state.followers.values.compactMap(\.queue)
        }
        for queue in all { queue.finish() }
    }
}

/// One follower's bounded queue of output chunks, with gaps where it fell behind.
final class FollowerQueue: Sendable {
    private enum Entry {
        case chunk([UInt8], live: Bool)
        case gap(lines: Int)
    }

    private struct State {
        var entries: [Entry] = []
        var head = 0
        var liveBytes = 0
        var finished = false
        var waiter: CheckedContinuation<[UInt8]?, Never>?
    }

    private let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) { self.capacity = capacity }

    /// Queues a chunk. Live chunks beyond `capacity` are dropped and remembered as a gap; returns false then.
    @discardableResult
    func push(_ bytes: [UInt8], lines: Int, backlog: Bool) -> Bool {
        let (accepted, waiter) = state.withLock { state -> (Bool, CheckedContinuation<[UInt8]?, Never>?) in
            guard !state.finished else { return (true, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (true, waiter)
            }
            if !backlog && state.liveBytes + bytes.count > capacity {
                if case .gap(let count)? = state.entries.last, state.entries.count > state.head {
                    state.entries[state.entries.count - 1] = .gap(lines: count + lines)
                } else {
                    state.entries.append(.gap(lines: lines))
                }
                return (false, nil)
            }
            state.entries.append(.chunk(bytes, live: !backlog))
            if !backlog { state.liveBytes += bytes.count }
            return (true, nil)
        }
        waiter?.resume(returning: bytes)
        return accepted
    }

    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<[UInt8]?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next chunk (or gap marker), waiting for one; nil once finished and drained.
    func next() async -> [UInt8]? {
        await withCheckedContinuation { (continuation: CheckedContinuation<[UInt8]?, Never>) in
            let ready = state.withLock { state -> [UInt8]?? in
                if state.head < state.entries.count {
                    let entry = state.entries[state.head]
                    state.head += 1
                    if state.head > 256 {
                        state.entries.removeFirst(state.head)
                        state.head = 0
                    }
                    switch entry {
                    case .chunk(let bytes, let live):
                        if live { state.liveBytes -= bytes.count }
                        return .some(bytes)
                    case .gap(let lines):
                        return .some(Array("…[heidid: \(lines) line\(lines == 1 ? "" : "s") skipped: this follower fell behind; the log file has every line]\n".utf8))
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
