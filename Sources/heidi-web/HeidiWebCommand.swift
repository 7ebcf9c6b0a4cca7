import ArgumentParser
import HeidiCore
import HeidiFleet
import HeidiWeb
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// `heidi-web`: the dashboard, authenticated telemetry and live events, a client of heidid's control socket
/// (SPEC §12). Its entry point is ``HeidiWebMain``, which parses it and calls ``serve(until:)``.
struct HeidiWebCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heidi-web",
        abstract: "The heidi dashboard: serves the page, the API and live events over HTTP(S), as a client of heidid.",
        discussion: """
            Listens on 127.0.0.1:7779 unless told otherwise; refuses to listen off loopback without --tls-cert and
            --tls-key. The operator password comes from --password-file, web.password_file, the systemd credential
            heidi-web-password, or TELEMETRY_PASS; 'admin' and passwords under 16 characters are refused. Exit 2 on a
            configuration error.
            """
    )

    @Option(name: .long, help: "The YAML config (its web: section; default $HEIDI_CONFIG, then /etc/heidi/heidi.yaml).")
    var config: String?
    @Option(name: .long, help: "heidid's control socket.")
    var socket: String?
    @Option(name: .long, help: "HOST:PORT to listen on (default 127.0.0.1:7779).")
    var listen: String?
    @Option(name: .long, help: "A file holding the operator password.")
    var passwordFile: String?
    @Option(name: .long, help: "A file holding the viewer password (read-only role).")
    var viewerPasswordFile: String?
    @Option(name: .long, help: "PEM certificate chain for TLS.")
    var tlsCert: String?
    @Option(name: .long, help: "PEM private key for TLS.")
    var tlsKey: String?
    @Flag(name: .long, help: "Check the configuration, print a summary and exit (0 valid, 2 invalid).")
    var checkConfig = false

    /// Serves until `stop` completes (``HeidiWebMain`` completes it on SIGTERM or SIGINT); returns at once after
    /// `--check-config`.
    func serve(until stop: EventLoopFuture<Void>) async throws {
        let environment = ProcessEnvironment.current()
        let options = WebOptions(
            configPath: config,
            socket: socket,
            listen: listen,
            passwordFile: passwordFile,
            viewerPasswordFile: viewerPasswordFile,
            tlsCert: tlsCert,
            tlsKey: tlsKey
        )
        let settings: WebSettings
        do { settings = try WebSettingsLoader.load(options, environment: environment) } catch {
            ProcessEnvironment.printError("heidi-web: \(error)")
            throw ExitCode(2)
        }
        if checkConfig {
            print(
                "heidi-web: configuration valid: listen \(settings.scheme)://\(settings.listen), socket \(settings.socketPath), viewer password \(settings.viewerPassword == nil ? "no" : "yes"), tokens \(settings.tokens.count)"
            )
            return
        }
        let upstream = ControlSocketUpstream(socketPath: settings.socketPath)
        let hub = EventHub(upstream: upstream)
        let clock: @Sendable () -> Double = {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        }
        let sessions = SessionStore(clock: clock)
        let limiter = LoginLimiter(clock: clock)
        var fleet: FleetStore?
        if let fleetSettings = settings.fleet {
            do { fleet = try FleetStore(settings: fleetSettings) } catch {
                ProcessEnvironment.printError("heidi-web: \(error)")
                throw ExitCode(2)
            }
        }
        var shipper: FleetShipper?
        if let dashboard = settings.dashboard {
            do { shipper = try FleetShipper(settings: dashboard, local: WorkerLink(upstream: upstream)) } catch {
                ProcessEnvironment.printError("heidi-web: \(error)")
                throw ExitCode(2)
            }
        }
        let server = WebServer(settings: settings) { [fleet] bound in
            WebRouter(
                policy: RequestPolicy(settings: bound, sessions: sessions, limiter: limiter),
                upstream: upstream,
                hub: hub,
                fleet: fleet
            )
        }
        let channel: any Channel
        let bound: WebSettings
        do { (channel, bound) = try await server.start() } catch {
            ProcessEnvironment.printError("heidi-web: cannot listen on \(settings.listen): \(error)")
            throw ExitCode(error is WebServerError ? 2 : 1)
        }
        ProcessEnvironment.printError(
            "heidi-web: listening on \(bound.scheme)://\(bound.listen) for heidid at \(settings.socketPath)"
        )
        let hubTask = Task { await hub.run() }
        let fleetTask = Task { [fleet, shipper] in
            await withTaskGroup(of: Void.self) { group in
                if let fleet {
                    ProcessEnvironment.printError("heidi-web: fleet dashboard: copies in \(fleet.settings.directory)")
                    group.addTask {
                        while !Task.isCancelled {
                            await fleet.tick()
                            await LoopSleep.sleep(nanoseconds: 1_000_000_000)
                        }
                    }
                }
                if let shipper, let dashboard = settings.dashboard {
                    ProcessEnvironment.printError(
                        "heidi-web: fleet worker: shipping \(dashboard.journalPath) to \(dashboard.endpoint.host):\(dashboard.endpoint.port)"
                    )
                    group.addTask { await shipper.run() }
                }
            }
        }
        try? await stop.get()
        hubTask.cancel()
        fleetTask.cancel()
        try? await channel.close()
    }
}
