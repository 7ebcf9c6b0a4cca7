import HeidiCore
import HeidiJournal
import HeidiTestSupport
import Testing

@testable import HeidiFleet

/// The dashboard's store: tokens (and their revocation), batches, staleness, the relay's action rule, the metrics.
@Suite("Fleet store")
struct FleetStoreTests {
    final class Clock: @unchecked Sendable {
        var now = 1000.0
        func read() -> Double { now }
    }

    static let token = "worker-token-0123456789"

    func store(_ directory: String, clock: Clock, file: String? = nil) throws -> (FleetStore, String) {
        let workers = file ?? (Scratch.directory("fleet-tokens") + "/workers")
        if file == nil { try FileSystem.writeAtomically(workers, Array("# name token\ngpu1 \(Self.token)\n".utf8)) }
        let settings = FleetStore.Settings(
            directory: directory,
            staleAfter: 6,
            workersFile: workers,
            sharedSecret: "shared-secret-0123456789"
        )
        return (try FleetStore(settings: settings, clock: { clock.read() }), workers)
    }

    func lines(_ count: Int) throws -> [[UInt8]] {
        let path = Scratch.directory("fleet-store-journal") + "/events.jsonl"
        let writer = try JournalWriter(path: path, fsync: .never)
        for i in 0..<count { try writer.append(EventDraft(.stageEnd, message: "event \(i)"), at: Timestamp.now()) }
        writer.close()
        return try FileSystem.read(path).split(separator: 0x0a).map { Array($0) + [0x0a] }
    }

    func contact(head: UInt64? = nil, allow: Bool? = nil) -> FleetStore.Contact {
        FleetStore.Contact(address: "10.0.0.2", workerHead: head, workerHeadTime: nil, allowActions: allow)
    }

    @Test(
        "a token names its worker; a wrong one does not; removing it from the file revokes it; Basic uses the shared secret"
    )
    func tokens() async throws {
        let clock = Clock()
        let (store, file) = try store(Scratch.directory("fleet-store"), clock: clock)
        #expect(await store.authenticate(authorization: "Bearer \(Self.token)") == "gpu1")
        #expect(await store.authenticate(authorization: "Bearer wrong-token-0123456789") == nil)
        #expect(await store.authenticate(authorization: nil) == nil)
        let basic = "Basic " + Base64.encode(Array("gpu7:shared-secret-0123456789".utf8))
        #expect(await store.authenticate(authorization: basic) == "gpu7")
        #expect(await store.authenticate(authorization: "Basic " + Base64.encode(Array("gpu7:admin".utf8))) == nil)
        try FileSystem.writeAtomically(file, Array("gpu2 another-token-0123456789\n".utf8))
        #expect(await store.authenticate(authorization: "Bearer \(Self.token)") == nil)
        #expect(await store.authenticate(authorization: "Bearer another-token-0123456789") == "gpu2")
    }

    @Test(
        "batches: 200 with the new head, 409 with the head on a gap; lag, staleness and the metrics follow; a restart keeps the copy"
    )
    func batches() async throws {
        let clock = Clock()
        let directory = Scratch.directory("fleet-store")
        let (store, file) = try store(directory, clock: clock)
        let all = try lines(10)
        let taken = try await store.receive("gpu1", batch: all[0..<4].flatMap { $0 }, contact(head: 10))
        #expect(taken.status == 200 && taken.reply.head == 4)
        let gap = try await store.receive("gpu1", batch: all[6..<8].flatMap { $0 }, contact(head: 10))
        #expect(gap.status == 409 && gap.reply.head == 4 && gap.reply.problem?.hasPrefix("gap") == true)
        var view = try #require(await store.views().first)
        #expect(view.up && view.lagSeq == 6 && view.gaps == 1)
        #expect(await store.exposition().contains("heidi_fleet_worker_up{worker=\"gpu1\"} 1"))
        clock.now += 7
        await store.tick()
        view = try #require(await store.views().first)
        #expect(!view.up && view.stale)
        #expect(await store.exposition().contains("heidi_fleet_worker_up{worker=\"gpu1\"} 0"))
        #expect(await store.events().contains { $0.kind == "stale" && $0.worker == "gpu1" })
        let (restarted, _) = try self.store(directory, clock: clock, file: file)
        #expect(try await restarted.heartbeat("gpu1", contact()).head == 4)
        #expect(await restarted.events().contains { $0.kind == "gap" })
    }

    @Test("an action is refused for a worker that does not allow them, and recorded with who asked; reads are relayed")
    func relay() async throws {
        let clock = Clock()
        let (store, _) = try store(Scratch.directory("fleet-store"), clock: clock)
        _ = try await store.heartbeat("gpu1", contact(allow: false))
        let refused = await store.relay(
            "gpu1",
            method: "POST",
            target: "/api/v1/action/pause",
            actor: "operator (session) from 10.9.9.9"
        )
        #expect(refused.status == 403)
        #expect(await store.events().contains { $0.kind == "relay_refused" && $0.message.contains("10.9.9.9") })
        async let answer = store.relay("gpu1", method: "GET", target: "/api/v1/scalars", actor: nil, timeout: 5)
        var tasks: [FleetTask] = []
        for _ in 0..<50 where tasks.isEmpty { tasks = await store.nextTasks("gpu1", wait: 0.1) }
        let task = try #require(tasks.first)
        #expect(task.target == "/api/v1/scalars")
        #expect(await store.complete("gpu1", id: task.id, status: 200, body: Array("{}".utf8)))
        #expect(await answer.status == 200)
        #expect(await store.complete("gpu1", id: task.id, status: 200, body: []) == false)
    }

    @Test("a relayed read that fails is not recorded (the page polls); an action the worker refuses is, with who asked")
    func relayFailures() async throws {
        let (store, _) = try store(Scratch.directory("fleet-store"), clock: Clock())
        _ = try await store.heartbeat("gpu1", contact(allow: true))
        func answer(_ method: String, _ target: String, actor: String?, status: Int) async throws -> Int {
            async let reply = store.relay("gpu1", method: method, target: target, actor: actor, timeout: 5)
            var tasks: [FleetTask] = []
            for _ in 0..<50 where tasks.isEmpty { tasks = await store.nextTasks("gpu1", wait: 0.1) }
            let task = try #require(tasks.first)
            #expect(await store.complete("gpu1", id: task.id, status: status, body: Array("{\"error\":{}}".utf8)))
            return await reply.status
        }
        let before = await store.events().count
        #expect(try await answer("GET", "/api/v1/logs?tail=100", actor: nil, status: 400) == 400)
        #expect(try await answer("GET", "/api/v1/logs?tail=100", actor: nil, status: 400) == 400)
        #expect(await store.events().count == before)
        #expect(
            try await answer("POST", "/api/v1/action/pause", actor: "operator (session) from 10.9.9.9", status: 403)
                == 403
        )
        #expect(
            await store.events().contains {
                $0.kind == "relay_refused" && $0.message.contains("/api/v1/action/pause")
                    && $0.message.contains("10.9.9.9") && $0.message.contains("403")
            }
        )
    }
}
