import ArgumentParser
import HeidiAPI
import HeidiControl
import HeidiCore
import HeidiEngine
import HeidiSlurm
import HeidiSystemd
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// `heidid`: the supervisor daemon for the Heidi training loop.
@main
struct HeidiDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heidid",
        abstract: "Supervisor daemon for the Heidi training loop (generate → validate → [test] → train → eval).",
        discussion: """
            Configuration: --config PATH, else $HEIDI_CONFIG, else /etc/heidi/heidi.yaml if present, else built-in defaults; environment variables override the file and flags override both. Control it with heidictl.

            --check-config also looks for what would fail only when a stage runs (a repo_root that does not exist, a stage's program or script that is missing, a stage left out that falls back to the original engine's scripts/*.py) and warns on stderr, naming the stage and the path; with --strict those warnings fail it.

            Exit status: 0 after a clean shutdown (SIGTERM/SIGINT) or a valid --check-config (warnings included, unless --strict); 1 when the daemon cannot run (state directory locked, control socket in use, journal unreadable); 2 for usage and configuration errors, and for --check-config --strict with warnings.
            """,
        version: Engine.version
    )

    @Option(name: .long, help: "Path of the YAML configuration file.")
    var config: String?

    @Option(name: .long, help: "State directory (journal, state.json, runs/). Overrides paths.state_dir.")
    var stateDir: String?

    @Option(name: .long, help: "Runtime directory (control socket). Overrides paths.runtime_dir.")
    var runtimeDir: String?

    @Option(name: .long, help: "Control socket path. Overrides control.socket.")
    var socket: String?

    @Option(name: .long, help: "Repository root ({repo_root}, default working directory of stages).")
    var repoRoot: String?

    @Option(name: .long, help: "Run mode for runs started without one: full or collect.")
    var mode: PipelineMode?

    @Option(name: .long, help: "Rounds for runs started without a count.")
    var rounds: Int?

    @Flag(name: .long, help: "Start a run as soon as the daemon is ready.")
    var autostart = false

    @Flag(
        name: .long,
        help: "Validate the configuration, print the resolved settings and warnings (missing paths) and exit."
    )
    var checkConfig = false

    @Flag(
        name: .long,
        help: "With --check-config: fail (exit 2) on warnings too, e.g. a missing repo_root, program or script."
    )
    var strict = false

    @Option(
        name: .long,
        help: "Where the daemon's own logs go: auto (journald when stderr is the journal), journald, stderr."
    )
    var logTarget: LogTarget = .auto

    @Option(name: .long, help: "Minimum log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    enum LogTarget: String, ExpressibleByArgument {
        case auto, journald, stderr
    }

    /// Runs the daemon with the documented exit codes: usage errors exit 2 (ArgumentParser's default is 64).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var daemon = command as? HeidiDaemon { try await daemon.run() } else { try command.run() }
        } catch {
            guard exitCode(for: error).rawValue == 64 else { exit(withError: error) }
            ProcessEnvironment.printError(fullMessage(for: error))
            Glibc.exit(2)
        }
    }

    func validate() throws {
        if strict && !checkConfig { throw ValidationError("--strict applies only with --check-config") }
    }

    func run() async throws {
        let environment = ProcessEnvironment.current()
        let overrides = ConfigOverrides(
            stateDir: stateDir,
            runtimeDir: runtimeDir,
            socket: socket,
            repoRoot: repoRoot,
            mode: mode,
            rounds: rounds,
            autostart: autostart ? true : nil
        )
        let settings: HeidiConfig
        do { settings = try ConfigLoader.load(path: config, environment: environment, overrides: overrides) } catch {
            ProcessEnvironment.printError("heidid: \(error)")
            throw ExitCode(2)
        }
        let warnings = ConfigCheck.warnings(settings, environment: environment)
        if checkConfig {
            print(ConfigSummary.describe(settings, warnings: warnings.count))
            for warning in warnings { ProcessEnvironment.printError("heidid: warning: \(warning)") }
            if strict && !warnings.isEmpty {
                ProcessEnvironment.printError(
                    "heidid: \(settings.source): \(warnings.count) warning(s), refused by --strict"
                )
                throw ExitCode(2)
            }
            return
        }
        let (logger, logsToJournal) = bootstrapLogging(environment: environment)
        for warning in warnings { logger.warning("config: \(warning)", metadata: ["config": "\(settings.source)"]) }
        /// Errors reach the operator's terminal too, unless the logger already wrote them there.
        func report(_ message: String) {
            if logsToJournal && !JournaldSender.stderrIsJournal(environment: environment) {
                ProcessEnvironment.printError(message)
            }
        }
        umask(0o027)
        Self.raiseDescriptorLimit()
        let notifier = SystemdNotifier()
        defer { notifier.flush() }  // STOPPING=1 and the last STATUS= reach systemd before heidid exits
        let mirror: (any EventMirror)? = FileSystem.exists("/run/systemd/journal/socket") ? JournaldMirror() : nil
        // Local stages are supervised children; `executor: slurm` stages are batch jobs (docs/slurm.md).
        let launcher = ExecutorLauncher(
            local: ProcessStageLauncher(logger: logger),
            others: ["slurm": SlurmStageLauncher(environment: environment, logger: logger)]
        )
        let engine = Engine(
            config: settings,
            environment: environment,
            launcher: launcher,
            notifier: notifier,
            mirror: mirror,
            logger: logger
        )
        do { try await engine.open() } catch {
            logger.critical("heidid cannot start: \(error)")
            report("heidid: \(error)")
            throw ExitCode(1)
        }
        var groupID: UInt32?
        if let group = settings.controlGroup {
            groupID = Authorizer.lookupGroup(group)
            if groupID == nil {
                logger.warning(
                    "control group '\(group)' does not exist; only root and this user may control heidid, and the socket keeps this user's group",
                    metadata: ["socket": "\(settings.socketPath)", "control.group": "\(group)"]
                )
            }
        }
        let activated = SocketActivation.takeListeningSocket()
        let authorizer = Authorizer(groupName: settings.controlGroup, groupID: groupID, socketPath: settings.socketPath)
        let router = ControlRouter(backend: engine, authorizer: authorizer)
        let server = ControlServer(
            socketPath: settings.socketPath,
            activatedDescriptor: activated,
            router: router,
            socketGroup: groupID,
            logger: logger
        ) { await engine.markReady() }
        let reloader = ReloadService(
            engine: engine,
            notifier: notifier,
            logger: logger,
            load: { try ConfigLoader.load(path: config, environment: environment, overrides: overrides) },
            environment: environment
        )
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: server),
                    .init(service: reloader),
                    .init(
                        service: EngineService(engine: engine, watchdogInterval: SystemdNotifier.watchdogInterval()),
                        successTerminationBehavior: .gracefullyShutdownGroup
                    ),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do { try await group.run() } catch {
            logger.critical("heidid stopped: \(error)")
            report("heidid: \(error)")
            await engine.shutdown(reason: "error: \(error)")
            throw ExitCode(1)
        }
    }

    /// Raises the soft RLIMIT_NOFILE to the hard limit (capped at 65536): each control connection and each stage
    /// pipe is a descriptor, and the default soft limit of 1024 is too low for many concurrent clients.
    private static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let target = min(limit.rlim_max, 65536)
        if limit.rlim_cur < target {
            limit.rlim_cur = target
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    }

    private func bootstrapLogging(environment: [String: String]) -> (Logger, usesJournal: Bool) {
        let useJournal: Bool
        switch logTarget {
        case .journald: useJournal = true
        case .stderr: useJournal = false
        case .auto: useJournal = JournaldSender.stderrIsJournal(environment: environment)
        }
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                useJournal ? JournaldLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return (Logger(label: "heidid"), useJournal)
    }
}

extension PipelineMode: ExpressibleByArgument {}
