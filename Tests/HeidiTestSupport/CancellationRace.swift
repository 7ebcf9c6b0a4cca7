import Dispatch
import HeidiCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Races consumers' cancellation against a publisher, on real threads, for the deadlock tests of heidid's status
/// board and heidi-web's event hub: `publish(n)` runs in a loop on its own thread while another thread, `rounds`
/// times, opens 8 consumers with `consume`, lets them read for 200 µs and cancels them. A deadlock stops both counts
/// instead of hanging the test: `stall` then says so (neither count moved for 10 s); nil when every round finished.
public func raceCancellationAgainstPublishing(
    rounds: Int = 400,
    publish: @escaping @Sendable (Int) -> Void,
    consume: @escaping @Sendable () -> Task<Void, Never>
) -> (published: Int, stall: String?) {
    let published = Atomic<Int>(0)
    let cancelled = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
    defer { stop.store(true, ordering: .relaxed) }
    DispatchQueue(label: "publisher").async {
        var n = 0
        while !stop.load(ordering: .relaxed) {
            n += 1
            publish(n)
            published.add(1, ordering: .relaxed)
        }
    }
    DispatchQueue(label: "canceller").async {
        for _ in 0..<rounds where !stop.load(ordering: .relaxed) {
            let consumers = (0..<8).map { _ in consume() }
            usleep(200)
            for consumer in consumers { consumer.cancel() }
            cancelled.add(1, ordering: .relaxed)
        }
    }
    var last = (published: -1, cancelled: -1)
    var stalledSince = MonotonicClock.nanoseconds()
    while cancelled.load(ordering: .relaxed) < rounds {
        usleep(50_000)
        let now = (published: published.load(ordering: .relaxed), cancelled: cancelled.load(ordering: .relaxed))
        if now != last {
            last = now
            stalledSince = MonotonicClock.nanoseconds()
        } else if MonotonicClock.nanoseconds() - stalledSince > 10_000_000_000 {
            return (
                now.published,
                "no publication and no cancellation for 10 s (\(now.published) published, \(now.cancelled) of \(rounds) rounds cancelled)"
            )
        }
    }
    return (last.published, nil)
}
