import NIOCore
import NIOPosix

/// heidi-web's sleeps: a task scheduled on an event loop of NIO's singleton group, which heidi-web also runs Swift
/// concurrency on (`NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor`).
///
/// `Task.sleep` does not go through that executor: the runtime still hands delayed jobs to libdispatch
/// (`dispatch_after` on a global queue), whose first use starts the worker-pool monitor, a 1 s timer that then wakes
/// an idle heidi-web once a second for good. A sleep here is a timer on the event loop's timerfd instead; cancelling
/// the task cancels the scheduled task (it leaves the loop's queue at once; the timerfd, armed for the earliest
/// deadline, may still wake that loop once at the cancelled deadline: NIO does not re-arm it later).
public enum LoopSleep {
    /// Sleeps `nanoseconds`; returns early (without throwing) when the task is cancelled.
    public static func sleep(
        nanoseconds: UInt64,
        on loop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()
    ) async {
        guard !Task.isCancelled else { return }
        let scheduled = loop.scheduleTask(in: .nanoseconds(Int64(clamping: nanoseconds))) {}
        await withTaskCancellationHandler {
            _ = try? await scheduled.futureResult.get()
        } onCancel: {
            scheduled.cancel()
        }
    }
}
