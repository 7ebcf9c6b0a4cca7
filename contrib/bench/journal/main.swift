import HeidiCore
import HeidiJournal

// heidi-journal-bench: how fast the journal appends under each fsync policy, and how fast it verifies.
// Run through contrib/bench/journal-bench.sh (release build); prints one line per measurement.
#if canImport(Glibc)
import Glibc
#endif

/// Options: --dir DIR (default: a new directory under /tmp), --events N (never/batch), --always N, --verify-mb MB.
struct Options {
    var directory: String?
    var events = 300_000
    var alwaysEvents = 3_000
    var verifyMegabytes = 256

    init(_ arguments: [String]) {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            let value = rest.popFirst() ?? ""
            switch flag {
            case "--dir": directory = value
            case "--events": events = Int(value) ?? events
            case "--always": alwaysEvents = Int(value) ?? alwaysEvents
            case "--verify-mb": verifyMegabytes = Int(value) ?? verifyMegabytes
            default:
                ProcessEnvironment.printError(
                    "usage: heidi-journal-bench [--dir DIR] [--events N] [--always N] [--verify-mb MB]"
                )
                exit(2)
            }
        }
    }
}

func seconds() -> Double { Double(MonotonicClock.nanoseconds()) / 1e9 }

func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

func fixed(_ value: Double, _ digits: Int = 1) -> String {
    let scale = Double((0..<digits).reduce(1) { acc, _ in acc * 10 })
    return String(Double((value * scale).rounded()) / scale)
}

/// A typical stage_end: usage and counter deltas, a log path, an ordinary message (~360 bytes per line).
func draft(_ index: Int) -> EventDraft {
    EventDraft(
        .stageEnd,
        message: "generate finished (exit 0) in 4.2s, pid \(10_000 + index % 50_000)",
        runID: "run_20261122_063000",
        round: index % 50 + 1,
        stage: "generate",
        countersDelta: ["output_bytes": 51_200, "output_lines": 812],
        usageDelta: ["cpu_sys_ms": 40, "cpu_user_ms": 1210, "max_rss_kb": 51_200, "wall_ms": 4213],
        artifactPaths: ["/var/lib/heidi/runs/run_20261122_063000/logs/round-1/generate.log"]
    )
}

/// Appends `count` events with `policy`; `batch` syncs like heidid's group commit (one fdatasync for everything
/// appended in the last 10 ms). Returns events/s and, for batch, how long events waited to be durable.
func appendRate(_ policy: FsyncPolicy, count: Int, directory: String) throws -> (rate: Double, p99: Double, max: Double)
{
    let path = "\(directory)/append-\(policy.rawValue)/events.jsonl"
    let writer = try JournalWriter(path: path, fsync: policy, rotateSize: 64 << 20)
    let delay = 0.010
    var pending: [Double] = []
    var waits: [Double] = []
    let drafts = (0..<1000).map(draft)  // what the engine hands the writer; building drafts is not the journal's cost
    let start = seconds()
    for index in 0..<count {
        try writer.append(drafts[index % drafts.count], at: Timestamp.now())
        guard policy == .batch else { continue }
        let now = seconds()
        pending.append(now)
        if let first = pending.first, now - first >= max(0.001, delay - writer.lastSyncSeconds) {  // as heidid does
            try writer.sync()
            let durable = seconds()
            waits += pending.map { durable - $0 }
            pending.removeAll(keepingCapacity: true)
        }
    }
    try writer.sync()
    let end = seconds()
    waits += pending.map { end - $0 }
    writer.close()
    return (Double(count) / (end - start), percentile(waits, 0.99) * 1000, (waits.max() ?? 0) * 1000)
}

/// Writes a journal of about `megabytes` MB (rotated at 64 MiB, a checkpoint every 1,000 lines) and verifies it.
func verificationRate(megabytes: Int, directory: String) throws -> String {
    let path = "\(directory)/verify/events.jsonl"
    let writer = try JournalWriter(path: path, fsync: .never, rotateSize: 64 << 20)
    let key = try JournalKey.loadOrCreate("\(directory)/verify/journal.key").key
    var index = 0
    var bytes = 0
    while bytes < megabytes << 20 {
        bytes += try writer.append(draft(index), at: Timestamp.now()).line.count
        index += 1
        if index % 1000 == 0 {
            bytes += try writer.appendCheckpoint(key: key, interval: 900, at: Timestamp.now()).line.count
        }
    }
    writer.close()
    let files = RotatedJournals.all(besides: path) + [path]
    var lines = ""
    for (label, keys) in [("chain only", [JournalKey]()), ("with key", [key])] {
        var best = Double.infinity
        var report: VerificationReport?
        for _ in 0..<3 {  // the first pass also warms the page cache
            let start = seconds()
            report = try JournalVerifier.verify(
                files: files,
                options: VerificationOptions(keys: keys, now: Timestamp.now(), complete: true)
            )
            best = min(best, seconds() - start)
        }
        guard let report, report.outcome == .intact else {
            return "verification failed: \(String(describing: report?.outcome))"
        }
        lines +=
            "verify (\(label)): \(fixed(Double(report.bytes) / 1e6 / best)) MB/s, \(Int(Double(report.lines) / best)) lines/s "
            + "(\(report.lines) lines, \(fixed(Double(report.bytes) / 1e6)) MB, \(files.count) files, \(report.checkpoints) checkpoints, "
            + "\(fixed(best * 1000)) ms)\n"
    }
    return lines
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
var template = Array("/tmp/heidi-journal-bench.XXXXXX".utf8CString)
let directory =
    options.directory
    ?? template.withUnsafeMutableBufferPointer { buffer in
        buffer.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) } ?? "/tmp"
    }
do {
    for (policy, count) in [
        (FsyncPolicy.never, options.events), (.batch, options.events), (.always, options.alwaysEvents),
    ] {
        let result = try appendRate(policy, count: count, directory: directory)
        var line = "append fsync=\(policy.rawValue): \(Int(result.rate)) events/s (\(count) events"
        if policy == .batch {
            line += "; wait until durable p99 \(fixed(result.p99, 2)) ms, max \(fixed(result.max, 2)) ms"
        }
        print(line + ")")
    }
    print(try verificationRate(megabytes: options.verifyMegabytes, directory: directory), terminator: "")
    print("files in \(directory)")
} catch {
    ProcessEnvironment.printError("heidi-journal-bench: \(error)")
    exit(1)
}
