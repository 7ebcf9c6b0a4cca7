import HeidiCore
import Synchronization

/// Fans stage output lines out to live followers (`GET /api/v1/logs?follow=1`), in order, from the stage's queue.
/// A follower that falls more than `buffer` lines behind loses the oldest lines rather than slowing the stage.
final class LogBroadcaster: Sendable {
    private struct Follower {
        var stage: Stage
        var round: Int?
        var continuation: AsyncStream<[UInt8]>.Continuation
    }

    private let state = Mutex<(next: Int, followers: [Int: Follower])>((0, [:]))
    private let buffer = 10_000

    /// A stream of lines of `stage` (in `round`, or any round when nil), each ending in `\n`: first what `backlog`
    /// returns (read under the lock, so no line is lost or doubled between the file and the live feed), then live lines.
    func follow(stage: Stage, round: Int?, backlog: () -> [[UInt8]]) -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingNewest(buffer))
        let id = state.withLock { state in
            for chunk in backlog() { continuation.yield(chunk) }
            state.next += 1
            state.followers[state.next] = Follower(stage: stage, round: round, continuation: continuation)
            return state.next
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.followers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Runs `write` (the log file append) and hands the line to followers, atomically with respect to `follow`.
    func publish(_ text: String, stage: Stage, round: Int, write: () -> Void) {
        state.withLock { state in
            write()
            let targets = state.followers.values.filter { $0.stage == stage && ($0.round == nil || $0.round == round) }
            guard !targets.isEmpty else { return }
            let bytes = Array(text.utf8) + [0x0a]
            for target in targets { target.continuation.yield(bytes) }
        }
    }

    func finishAll() {
        let all = state.withLock { state in
            defer { state.followers = [:] }
            return state.followers.values.map(\.continuation)
        }
        for continuation in all { continuation.finish() }
    }
}
