import HeidiCore
import HeidiEngine
import HeidiSystemd
import Logging
import ServiceLifecycle
import UnixSignals

/// SIGHUP: `RELOADING=1` + `MONOTONIC_USEC`, re-read the configuration (an invalid one is refused and the running
/// one kept), `READY=1`. A running child is never restarted; stage definitions apply from the next stage start.
struct ReloadService: Service {
    let engine: Engine
    let notifier: any ServiceNotifier
    let logger: Logger
    let load: @Sendable () throws -> HeidiConfig
    /// The environment the stages get, for the config check's PATH lookups.
    let environment: [String: String]

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                notifier.notify("RELOADING=1\nMONOTONIC_USEC=\(SystemdNotifier.monotonicMicroseconds())")
                do {
                    let config = try load()
                    await engine.reload(config)
                    logger.notice("configuration reloaded", metadata: ["source": "\(config.source)"])
                    for warning in ConfigCheck.warnings(config, environment: environment) {
                        logger.warning("config: \(warning)", metadata: ["config": "\(config.source)"])
                    }
                } catch {
                    logger.error("reload refused, keeping the running configuration: \(error)")
                    await engine.reloadFailed("\(error)")
                }
                notifier.notify("READY=1")
            }
        }
    }
}
