import Dispatch
import HeidiCore
import HeidiTestSupport
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
        let result = raceCancellationAgainstPublishing(
            publish: { n in
                let seq = UInt64(n)
                hub.publish(.event(seq: seq, line: FakeUpstream.line(seq)))
                if seq % 3 == 0 { hub.publish(.status(Array("{\"n\":\(seq)}".utf8))) }
            },
            consume: {
                let items = hub.subscribe(after: 0)
                return Task { for await _ in items {} }
            }
        )
        if let stall = result.stall { Issue.record("the hub deadlocked: \(stall)") }
        #expect(result.published > 0)
    }
}
