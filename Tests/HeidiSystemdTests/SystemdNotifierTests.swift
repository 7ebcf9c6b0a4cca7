import HeidiCore
import HeidiSystemd
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("service-manager notifications")
struct SystemdNotifierTests {
    final class Recorder: Sendable {
        let sent = Mutex<[String]>([])
        let gate = ConditionGate()
    }

    @Test(
        "notify never waits for the service manager; order is kept and a queued STATUS= line gives way to a newer one"
    )
    func notifyQueuesWhileTheManagerIsStuck() {
        let recorder = Recorder()
        let notifier = SystemdNotifier { message in
            recorder.gate.wait()  // a service manager that does not read
            recorder.sent.withLock { $0.append(message) }
        }
        let started = MonotonicClock.nanoseconds()
        notifier.notify("READY=1\nSTATUS=idle")
        for n in 1...1000 { notifier.notify("STATUS=step \(n)") }
        notifier.notify("STOPPING=1\nSTATUS=stopping")
        notifier.notify("STATUS=after stopping")
        let took = Double(MonotonicClock.nanoseconds() - started) / 1e9
        #expect(took < 1, "1,003 notifications while the manager is stuck took \(took) s")
        recorder.gate.open()
        notifier.flush(seconds: 10)
        let sent = recorder.sent.withLock { $0 }
        // The first message may have been taken alone before the STATUS lines were queued.
        #expect(sent.first == "READY=1\nSTATUS=idle")
        #expect(
            sent.suffix(3) == ["STATUS=step 1000", "STOPPING=1\nSTATUS=stopping", "STATUS=after stopping"],
            "\(sent)"
        )
        #expect(sent.count <= 5, "queued STATUS= lines coalesce: \(sent.count) sent")
    }

    @Test("the sender thread ends when the queue stays empty; the next message starts a new one")
    func senderComesBack() async throws {
        let recorder = Recorder()
        recorder.gate.open()
        let notifier = SystemdNotifier(quietSpell: 0.05) { message in recorder.sent.withLock { $0.append(message) } }
        notifier.notify("READY=1")
        notifier.flush()
        try await Task.sleep(nanoseconds: 300_000_000)  // several quiet spells: the thread has ended
        notifier.notify("WATCHDOG=1")
        notifier.flush()
        #expect(recorder.sent.withLock { $0 } == ["READY=1", "WATCHDOG=1"])
    }

    @Test("without NOTIFY_SOCKET nothing is sent and nothing waits")
    func disabledIsSilent() {
        let recorder = Recorder()
        let notifier = SystemdNotifier(enabled: false) { message in recorder.sent.withLock { $0.append(message) } }
        notifier.notify("READY=1")
        notifier.flush()
        #expect(recorder.sent.withLock { $0 }.isEmpty)
    }
}
