import HeidiCore
import HeidiSupervisor
import HeidiSystemd
import Synchronization

/// Delivers one stage's output batches to its log file, live followers and journald (from the pipe reader threads,
/// one batch at a time).
final class StageOutputSink: Sendable {
    let broadcaster: LogBroadcaster
    let logFile: StageLogFile
    let journald: JournaldFeed?
    let stage: Stage
    let round: Int
    /// Live totals for `/metrics` (rates while the stage runs).
    let lines = Atomic<Int>(0)
    let bytes = Atomic<Int>(0)

    init(broadcaster: LogBroadcaster, logFile: StageLogFile, journald: JournaldFeed?, stage: Stage, round: Int) {
        self.broadcaster = broadcaster
        self.logFile = logFile
        self.journald = journald
        self.stage = stage
        self.round = round
    }

    func deliver(_ batch: OutputBatch) {
        broadcaster.publish(batch.bytes, lines: batch.lineCount, path: logFile.path) { logFile.append(batch.bytes) }
        journald?.offer(batch)
        lines.add(batch.lineCount, ordering: .relaxed)
        bytes.add(batch.bytes.count, ordering: .relaxed)
    }

    /// The stage ended: journald hears how many lines it did not get.
    func finish() { journald?.finish() }
}
