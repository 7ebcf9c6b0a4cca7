import HeidiControl
import HeidiFuzzing
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// A socket path in /tmp that no other test or run uses at the same time (`name` tells the tests apart).
func scratchSocketPath(_ name: String) -> String {
    "/tmp/heidi-ctl-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
}

/// Runs a `ControlServer` with the static backend (on `path`, or on a socket systemd-style `activatedDescriptor`)
/// until `body` returns, then shuts it down gracefully and waits for it to end.
func withTestControlServer(
    path: String,
    activatedDescriptor: Int32? = nil,
    idleTimeout: Double,
    _ body: () async throws -> Void
) async throws {
    var options = ControlServer.Options()
    options.idleTimeout = idleTimeout
    let ready = AsyncStream.makeStream(of: Void.self)
    let server = ControlServer(
        socketPath: path,
        activatedDescriptor: activatedDescriptor,
        router: ControlRouter(backend: StaticBackend(), authorizer: Authorizer(groupName: nil)),
        socketGroup: nil,
        logger: Logger(label: "test"),
        options: options
    ) { ready.continuation.yield() }
    let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        for await _ in ready.stream { break }
        try await body()
        await group.triggerGracefulShutdown()
        try await tasks.next()
    }
}
