import Dispatch
import HeidiCore
import Synchronization
import Testing

@testable import HeidiWeb

#if canImport(Glibc)
import Glibc
#endif

/// Races between the hub's publisher and its consumers, on real threads: a hang here is a deadlock in the hub.
@Suite("heidi-web event hub races")
struct EventHubRaceTests {
    /// Consumers cancelled while the producer publishes, many times over (commit f754391: a termination handler that
    /// took the hub's lock, run while the runtime held the cancelled task's lock, deadlocked with a publish that
    /// resumed that task under the hub's lock). The producer and the canceller run on their own threads, so a
    /// deadlock stops the publication count instead of hanging the test, and the test fails saying so.
    @Test("consumers cancelled while the hub publishes never deadlock it")
    func cancelWhilePublishing() async {
        let hub = EventHub(upstream: FakeUpstream(), ringCapacity: 64, clientQueue: 8)
        let published = Atomic<Int>(0)
        let cancelled = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        DispatchQueue(label: "publisher").async {
            var seq: UInt64 = 0
            while !stop.load(ordering: .relaxed) {
                seq += 1
                hub.publish(.event(seq: seq, line: FakeUpstream.line(seq)))
                if seq % 3 == 0 { hub.publish(.status(Array("{\"n\":\(seq)}".utf8))) }
                published.add(1, ordering: .relaxed)
            }
        }
        let rounds = 400
        DispatchQueue(label: "canceller").async {
            for _ in 0..<rounds where !stop.load(ordering: .relaxed) {
                let consumers = (0..<8).map { _ in
                    let items = hub.subscribe(after: 0)
                    return Task { for await _ in items {} }
                }
                usleep(200)
                for consumer in consumers { consumer.cancel() }
                cancelled.add(1, ordering: .relaxed)
            }
        }
        defer { stop.store(true, ordering: .relaxed) }
        var last = (published: -1, cancelled: -1)
        var stalledSince = MonotonicClock.nanoseconds()
        while cancelled.load(ordering: .relaxed) < rounds {
            usleep(50_000)
            let now = (published: published.load(ordering: .relaxed), cancelled: cancelled.load(ordering: .relaxed))
            if now != last {
                last = now
                stalledSince = MonotonicClock.nanoseconds()
            } else if MonotonicClock.nanoseconds() - stalledSince > 10_000_000_000 {
                Issue.record(
                    "the hub deadlocked: no publication and no cancellation for 10 s (\(now.published) published, \(now.cancelled) of \(rounds) rounds cancelled)"
                )
                return
            }
        }
        #expect(last.published > 0)
    }
}
