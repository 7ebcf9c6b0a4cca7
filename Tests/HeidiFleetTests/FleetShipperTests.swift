import HeidiCore
import Testing

@testable import HeidiFleet

/// The worker's own rule for relayed requests, whatever the dashboard says: reads pass, actions only when allowed.
@Suite("Fleet shipper: relayed requests")
struct FleetShipperTests {
    final class FakeLocal: WorkerLocal, @unchecked Sendable {
        var performed: [(String, String, String?)] = []
        func statusChanges() async -> AsyncStream<[UInt8]>? { nil }
        func perform(
            _ method: String,
            _ target: String,
            body: [UInt8],
            actor: String?
        ) async -> (status: Int, body: [UInt8]) {
            performed.append((method, target, actor))
            return (200, Array("{}".utf8))
        }
    }

    func shipper(allow: Bool, local: FakeLocal) throws -> FleetShipper {
        let endpoint = FleetEndpoint(host: "127.0.0.1", port: 1, trust: .plaintext)
        return try FleetShipper(
            settings: ShipperSettings(
                endpoint: endpoint,
                authorization: "Bearer x",
                journalPath: "/nonexistent",
                allowActions: allow
            ),
            local: local
        )
    }

    @Test(
        "a worker without allow_actions refuses an action the dashboard relays (403) and never asks heidid; reads pass"
    )
    func refusesActions() async throws {
        let local = FakeLocal()
        let shipper = try shipper(allow: false, local: local)
        let action = FleetTask(
            id: "t1",
            method: "POST",
            target: "/api/v1/action/stop",
            actor: "operator (session) from 10.0.0.9",
            body: ""
        )
        #expect(await shipper.respond(to: action).status == 403)
        #expect(local.performed.isEmpty)
        let read = FleetTask(id: "t2", method: "GET", target: "/api/v1/scalars", actor: nil, body: "")
        #expect(await shipper.respond(to: read).status == 200)
        let other = FleetTask(id: "t3", method: "GET", target: "/metrics", actor: nil, body: "")
        #expect(await shipper.respond(to: other).status == 403)
        #expect(local.performed.count == 1)
    }

    @Test("with allow_actions the action reaches heidid with who asked, from where, and through which dashboard")
    func allowedActionCarriesActor() async throws {
        let local = FakeLocal()
        let shipper = try shipper(allow: true, local: local)
        let action = FleetTask(
            id: "t1",
            method: "POST",
            target: "/api/v1/action/pause",
            actor: "operator (session) from 10.0.0.9",
            body: ""
        )
        #expect(await shipper.respond(to: action).status == 200)
        #expect(local.performed.first?.2 == "operator (session) from 10.0.0.9 via fleet dashboard 127.0.0.1:1")
    }

    @Test("DASHBOARD_HOST forms and pins as openssl prints them")
    func endpoints() throws {
        #expect(
            try FleetEndpoint.parse("https://dash.example:8443/x", trust: .system, key: "k")
                == FleetEndpoint(host: "dash.example", port: 8443, trust: .system)
        )
        #expect(try FleetEndpoint.parse("10.0.0.1", trust: .system, key: "k").port == 7779)
        #expect(try FleetEndpoint.parse("[fd00::1]:9000", trust: .system, key: "k").host == "fd00::1")
        #expect(throws: FleetConfigError.self) {
            try FleetEndpoint.parse("http://10.0.0.1:7779", trust: .system, key: "k")
        }
        let pin = try FleetEndpoint.pin(
            "sha256 Fingerprint=" + Array(repeating: "AB", count: 32).joined(separator: ":"),
            key: "k"
        )
        #expect(pin == String(repeating: "ab", count: 32))
        #expect(throws: FleetConfigError.self) { try FleetEndpoint.pin("AB:CD", key: "k") }
    }
}
