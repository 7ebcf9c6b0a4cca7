import HeidiCore
import Logging
import ServiceLifecycle

/// Runs the engine inside a ServiceGroup: on graceful shutdown (SIGTERM/SIGINT) it stops the run, letting
/// children take their grace, and records `daemon_stop`.
public struct EngineService: Service {
    let engine: Engine
    let watchdogInterval: Double?

    public init(engine: Engine, watchdogInterval: Double?) {
        self.engine = engine
        self.watchdogInterval = watchdogInterval
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            if let interval = watchdogInterval {
                group.addTask { await engine.watchdogLoop(interval: interval) }
            }
            await withGracefulShutdownHandler {
                try? await gracefulShutdown()
            } onGracefulShutdown: {
            }
            await engine.shutdown()
            group.cancelAll()
        }
    }
}

extension Engine {
    /// Pings the systemd watchdog at half its interval, from the engine itself and only while it is healthy, so a
    /// wedged engine is killed and restarted by systemd.
    func watchdogLoop(interval: Double) async {
        let period = UInt64(interval / 2 * 1e9)
        while !Task.isCancelled {
            try? await Task.sleep(nanoseconds: period)
            if Task.isCancelled { return }
            if healthy() { notifier.notify("WATCHDOG=1\nSTATUS=\(statusLine())") }
        }
    }

    func healthy() -> Bool { journal != nil && !shuttingDown }
}
