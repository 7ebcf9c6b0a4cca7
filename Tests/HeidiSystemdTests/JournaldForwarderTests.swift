import HeidiCore
import HeidiSupervisor
import HeidiSystemd
import HeidiTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("journald forwarding")
struct JournaldForwardingTests {
    final class Recorder: @unchecked Sendable {
        let lines = Mutex<[String]>([])
        let gate = ConditionGate()
    }

    static let source = ForwardedLineSource(stage: .generate, round: 1, runID: "r", pid: 1, logPath: "/x/generate.log")

    static func batch(_ range: Range<Int>) -> OutputBatch {
        OutputBatch(stream: .stdout, bytes: Array(range.map { "line \($0)\n" }.joined().utf8), lineCount: range.count)
    }

    @Test func linesOverTheBurstAreCountedAndAnnouncedNotSent() {
        let recorder = Recorder()
        let forwarder = JournaldForwarder(limits: .init(burst: 100, perSecond: 0, queueCapacity: 10_000)) { line, _ in
            recorder.lines.withLock { $0.append(line.text) }
        }
        let feed = forwarder.feed(for: Self.source)
        for start in stride(from: 0, to: 5000, by: 500) { feed.offer(Self.batch(start..<(start + 500))) }
        feed.finish()
        #expect(eventually { recorder.lines.withLock { $0.count } == 101 })
        let lines = recorder.lines.withLock { $0 }
        #expect(Array(lines.prefix(100)) == (0..<100).map { "line \($0)" })
        #expect(lines.last?.contains("4900 lines of generate output not sent to journald") == true)
        #expect(lines.last?.contains("/x/generate.log") == true)
        #expect(feed.droppedLines == 4900)
    }

    @Test func aStuckJournaldNeverBlocksTheStageItOnlyFillsABoundedQueue() {
        let recorder = Recorder()
        let forwarder = JournaldForwarder(limits: .init(burst: 100_000, perSecond: 0, queueCapacity: 50)) { line, _ in
            recorder.gate.wait()  // journald does not answer
            recorder.lines.withLock { $0.append(line.text) }
        }
        let feed = forwarder.feed(for: Self.source)
        for start in stride(from: 0, to: 2000, by: 100) { feed.offer(Self.batch(start..<(start + 100))) }
        // offer() returned for all 2000 lines while the sender is stuck on the first one.
        // At most one queue's worth taken by the stuck sender plus one queue's worth waiting.
        #expect(feed.droppedLines >= 2000 - 2 * 50, "\(feed.droppedLines)")
        recorder.gate.open()
        feed.finish()
        #expect(eventually { recorder.lines.withLock { $0.last?.contains("not sent to journald") ?? false } })
    }
}

/// A one-shot gate threads can wait on (tests only).
final class ConditionGate: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var isOpen = false
    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }
    func wait() {
        pthread_mutex_lock(&mutex)
        while !isOpen { pthread_cond_wait(&condition, &mutex) }
        pthread_mutex_unlock(&mutex)
    }
    func open() {
        pthread_mutex_lock(&mutex)
        isOpen = true
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }
}
