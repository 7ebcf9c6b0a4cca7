import HeidiAPI
import HeidiControl
import HeidiCore
import Testing

/// The control path's hooks for heidi-web: `X-Heidi-Actor` reaches the backend with the action, and
/// `GET /api/v1/scalars` is routed (SPEC §12).
@Suite("Control: actor and scalars")
struct ActorAndScalarsRouteTests {
    actor RecordingBackend: ControlBackend {
        var actors: [String?] = []
        var scalarRuns: [String?] = []

        nonisolated func publishedStatus() -> StatusSnapshot? { nil }
        func isReady() async -> Bool { true }
        func perform(_ action: Action, start: StartRequest?) async -> Result<ActionResponse, APIErrorBody> {
            .failure(APIErrorBody(.internal, "the actor variant must be called"))
        }
        func perform(
            _ action: Action,
            start: StartRequest?,
            actor: String?
        ) async -> Result<ActionResponse, APIErrorBody> {
            actors.append(actor)
            return .success(ActionResponse(action: action.rawValue, outcome: nil, state: .idle, runID: nil))
        }
        func scalars(runID: String?) async -> Result<[UInt8], APIErrorBody> {
            scalarRuns.append(runID)
            return .success(Array("{\"series\":[]}\n".utf8))
        }
        func events(after: UInt64, follow: Bool) async -> Result<AsyncStream<[UInt8]>, APIErrorBody> {
            .failure(APIErrorBody(.notFound, "none"))
        }
        func logs(
            stage: String,
            round: Int?,
            tail: Int?,
            fromLine: Int?,
            follow: Bool
        ) async -> Result<LogStream, APIErrorBody> {
            .failure(APIErrorBody(.notFound, "none"))
        }
        func metrics() async -> String { "" }
    }

    let root = PeerCredentials(pid: 1, uid: 0, gid: 0)

    @Test("an action's actor reaches the backend; without the header it is nil")
    func actorPassed() async {
        let backend = RecordingBackend()
        let router = ControlRouter(backend: backend, authorizer: Authorizer(daemonUID: 1000, groupName: nil))
        let acted = await router.route(
            ControlRequest(
                method: "POST",
                uri: "/api/v1/action/stop",
                body: [],
                peer: root,
                actor: "operator (session) from 192.0.2.7 via heidi-web"
            )
        )
        #expect(acted.status == 202)
        _ = await router.route(ControlRequest(method: "POST", uri: "/api/v1/action/stop", body: [], peer: root))
        // The claim, and who made it (the peer's uid, from the kernel).
        #expect(await backend.actors == ["operator (session) from 192.0.2.7 via heidi-web, relayed by uid 0", nil])
    }

    @Test("GET /api/v1/scalars is routed with its run_id; other methods 405; a backend without scalars 404")
    func scalarsRoute() async {
        let backend = RecordingBackend()
        let router = ControlRouter(backend: backend, authorizer: Authorizer(daemonUID: 1000, groupName: nil))
        #expect(
            await router.route(ControlRequest(method: "GET", uri: "/api/v1/scalars?run_id=run_1", body: [], peer: root))
                .status == 200
        )
        #expect(
            await router.route(ControlRequest(method: "GET", uri: "/api/v1/scalars", body: [], peer: root)).status
                == 200
        )
        #expect(await backend.scalarRuns == ["run_1", nil])
        #expect(
            await router.route(ControlRequest(method: "POST", uri: "/api/v1/scalars", body: [], peer: root)).status
                == 405
        )
        let plain = ControlRouter(
            backend: StaticBackendWithoutScalars(),
            authorizer: Authorizer(daemonUID: 1000, groupName: nil)
        )
        #expect(
            await plain.route(ControlRequest(method: "GET", uri: "/api/v1/scalars", body: [], peer: root)).status == 404
        )
    }

    struct StaticBackendWithoutScalars: ControlBackend {
        func publishedStatus() -> StatusSnapshot? { nil }
        func isReady() async -> Bool { true }
        func perform(_ action: Action, start: StartRequest?) async -> Result<ActionResponse, APIErrorBody> {
            .failure(APIErrorBody(.internal, ""))
        }
        func events(after: UInt64, follow: Bool) async -> Result<AsyncStream<[UInt8]>, APIErrorBody> {
            .failure(APIErrorBody(.notFound, ""))
        }
        func logs(
            stage: String,
            round: Int?,
            tail: Int?,
            fromLine: Int?,
            follow: Bool
        ) async -> Result<LogStream, APIErrorBody> {
            .failure(APIErrorBody(.notFound, ""))
        }
        func metrics() async -> String { "" }
    }
}
