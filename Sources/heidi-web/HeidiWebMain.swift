import ArgumentParser
import HeidiCore
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// heidi-web's entry point, synchronous so that it runs before any task exists: it makes NIO's event loops Swift
/// concurrency's global executor, and waits for SIGTERM and SIGINT with `sigwait` on the main thread.
///
/// Why: with the default executor, libdispatch runs every task, and its first use starts its worker-pool monitor, a
/// 1 s timer on its manager thread that wakes an idle heidi-web once a second forever (and a Dispatch signal source
/// would be a Dispatch user too). On NIO's loops an idle heidi-web sleeps in `epoll_wait` until a client, heidid or
/// a keep-alive timer has something for it (docs/web.md, "Idle"; the test "an idle heidi-web with a page open
/// sleeps"). heidi-web's sleeps are event-loop timers for the same reason (`LoopSleep`).
@main
enum HeidiWebMain {
    static func main() {
        // Before any thread: every thread started from here on inherits the mask, so the signals stay pending
        // until `sigwait` below takes them.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)
        if !NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() {
            ProcessEnvironment.printError(
                "heidi-web: warning: cannot run Swift concurrency on NIO's event loops (this Swift runtime has no enqueue hook); libdispatch's executor wakes heidi-web once a second"
            )
        }
        let command = HeidiWebCommand.parseOrExit()
        let stop = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: Void.self)
        // Detached: `main` runs on the main actor, whose queue nothing drains here (the main thread waits in
        // `sigwait`); a task that inherited it would never start.
        Task.detached {
            do {
                try await command.serve(until: stop.futureResult)
                exit(0)
            } catch {
                HeidiWebCommand.exit(withError: error)
            }
        }
        var caught: Int32 = 0
        sigwait(&signals, &caught)
        stop.succeed(())
        // Shutting down: a second signal ends heidi-web at once.
        sigwait(&signals, &caught)
        exit(128 + caught)
    }
}
