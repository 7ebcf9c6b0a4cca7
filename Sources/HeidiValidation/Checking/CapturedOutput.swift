import HeidiSupervisor
import Synchronization

/// Keeps the first `limit` bytes of a check's stdout and of its stderr (the supervisor delivers them as redacted,
/// line-split batches from its reader threads) and counts what it had to drop.
final class CapturedOutput: Sendable {
    private struct Streams {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var droppedBytes = 0
    }

    private let limit: Int
    private let streams = Mutex(Streams())

    init(limit: Int) { self.limit = max(0, limit) }

    /// Takes one batch of output lines (called from the supervisor's reader threads).
    func append(_ batch: OutputBatch) {
        streams.withLock { streams in
            let kept = batch.stream == .stdout ? streams.stdout.count : streams.stderr.count
            let room = max(0, limit - kept)
            let taken = batch.bytes.prefix(room)
            if batch.stream == .stdout { streams.stdout += taken } else { streams.stderr += taken }
            streams.droppedBytes += batch.bytes.count - taken.count
        }
    }

    var stdout: String { streams.withLock { String(decoding: $0.stdout, as: UTF8.self) } }
    var stderr: String { streams.withLock { String(decoding: $0.stderr, as: UTF8.self) } }
    var droppedBytes: Int { streams.withLock { $0.droppedBytes } }
}
