import HeidiTestSupport
import Testing

@testable import HeidiCore
@testable import HeidiJournal

#if canImport(Glibc)
import Glibc
#endif

/// A journal built by a test with the real writer, a key, and a clock that moves one second per event, so the
/// sealing rules (intervals, overdue checkpoints) are deterministic.
final class TestJournal {
    let directory: String
    let path: String
    let key: JournalKey
    let writer: JournalWriter
    private(set) var time = Timestamp(microseconds: 1_795_329_659_000_000)
    /// What every line was when it was written (for journald heads).
    private(set) var written: [WrittenEvent] = []

    init(rotateSize: Int64 = 0, interval: UInt64 = 60) throws {
        directory = makeTemporaryDirectory("heidi-journal")
        path = directory + "/events.jsonl"
        key = try JournalKey.loadOrCreate(directory + "/journal.key").key
        writer = try JournalWriter(path: path, fsync: .never, rotateSize: rotateSize)
        self.interval = interval
    }

    let interval: UInt64

    /// `count` events with a checkpoint after every `every` of them (0: none).
    static func sealed(count: Int, every: Int = 4, rotateSize: Int64 = 0) throws -> TestJournal {
        let journal = try TestJournal(rotateSize: rotateSize)
        try journal.event(.daemonStart, "heidid started")
        if every > 0 { try journal.checkpoint() }
        for index in 1...count {
            try journal.event(.stageEnd, "event \(index) with \"quotes\", a \\ and ünïcode")
            if every > 0, index % every == 0 { try journal.checkpoint() }
        }
        return journal
    }

    func advance(_ seconds: Int64) { time = Timestamp(microseconds: time.microseconds + seconds * 1_000_000) }

    @discardableResult
    func event(_ type: EventType = .stageEnd, _ message: String = "something happened") throws -> WrittenEvent {
        advance(1)
        let event = try writer.append(
            EventDraft(type, message: message, runID: "run_x", round: 1, stage: "train"),
            at: time
        )
        written.append(event)
        return event
    }

    func checkpoint(with key: JournalKey? = nil) throws {
        advance(1)
        written.append(try writer.appendCheckpoint(key: key ?? self.key, interval: interval, at: time))
    }

    /// The shutdown sequence heidid writes: a checkpoint, then `daemon_stop`.
    func stop() throws {
        try checkpoint()
        try event(.daemonStop, "heidid stopping (SIGTERM)")
    }

    var files: [String] { RotatedJournals.all(besides: path) + [path] }

    func lines() throws -> [[UInt8]] { try HeidiJournalTests.lines(of: path) }

    func replace(_ lines: [[UInt8]]) throws { try writeBytes(path, lines.flatMap { $0 }) }

    /// Verifies the whole journal (as heidictl does for a live journal), with this journal's key unless told otherwise.
    func verify(
        keys: [JournalKey]? = nil,
        now: Timestamp? = nil,
        anchors: [JournalAnchor] = [],
        journald: JournaldHeads? = nil,
        sinceCheckpoint: Bool = false
    ) throws -> VerificationReport {
        try JournalVerifier.verify(
            files: files,
            options: VerificationOptions(
                anchors: anchors,
                journald: journald,
                keys: keys ?? [key],
                now: now ?? time,
                sinceCheckpoint: sinceCheckpoint,
                complete: true
            )
        )
    }

    /// journald's copy of every line written (what heidid's mirror sends).
    var journaldHeads: JournaldHeads {
        JournaldHeads(
            entries: written.map {
                JournaldHeads.Entry(seq: $0.seq, hash: Digest(hex: $0.hash) ?? .zero, time: $0.timestamp.microseconds)
            }
        )
    }
}

/// Writes bytes without fsync (tests write thousands of variants).
func writeBytes(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw FileSystemError(path: path, operation: "open", errno: errno) }
    defer { close(fd) }
    try FileSystem.writeAll(fd: fd, bytes, path: path)
}

/// What an attacker without the key does after changing line `index`: recompute every later `prev_hash`.
func rechain(_ lines: inout [[UInt8]], from index: Int) {
    guard index + 1 < lines.count else { return }
    for next in (index + 1)..<lines.count {
        let hash = Array(SHA256.hex(lines[next - 1]).utf8)
        let end = lines[next].count - 3  // before "}\n
        lines[next].replaceSubrange((end - 64)..<end, with: hash)
    }
}

/// Replaces the first occurrence of `old` in `line`.
func edit(_ line: [UInt8], _ old: String, _ new: String) -> [UInt8] {
    let needle = Array(old.utf8)
    guard let range = line.firstRange(of: needle) else { return line }
    var copy = line
    copy.replaceSubrange(range, with: Array(new.utf8))
    return copy
}

/// The reason of a broken verdict, or a failure naming what the verifier said instead.
func brokenReason(_ report: VerificationReport, sourceLocation: SourceLocation = #_sourceLocation) -> String {
    guard case .broken(_, _, let reason) = report.outcome else {
        Issue.record(
            "expected a broken verdict, got \(report.outcome) (verdict \(report.verdict.rawValue))",
            sourceLocation: sourceLocation
        )
        return ""
    }
    return reason
}
