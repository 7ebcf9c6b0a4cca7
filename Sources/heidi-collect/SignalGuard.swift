import HeidiCollect
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// Runs a collection so that SIGTERM and SIGINT end it cleanly: the first signal cancels the run (no new
/// requests, requests in flight are cancelled, nothing is written, exit 128 + signal); a second one exits at once,
/// removing the temporary output file if the signal came while it was being written.
enum SignalGuard {
    static func run(_ job: CollectJob, log: @escaping @Sendable (String) -> Void) async -> CollectReport {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let collection = Task { await CollectRun.run(job, log: log) }
        let tempPath = job.output.temporaryPath
        let watcher = Task { () -> Int32? in
            var received: Int32?
            for await signal in signals {
                if received != nil {
                    log("second \(signal): exiting now")
                    unlink(tempPath)
                    Glibc.exit(128 + signal.rawValue)
                }
                received = signal.rawValue
                log("\(signal): stopping (in-flight requests are cancelled, nothing is written; again to exit at once)")
                collection.cancel()
            }
            return received
        }
        var report = await collection.value
        watcher.cancel()
        // A signal that arrived after the collection was written changes nothing: the output is complete.
        if report.written == nil, report.result.interrupted, let signal = await watcher.value {
            report.exitCode = CollectExitCode.interrupted(signal: signal)
        }
        return report
    }
}
