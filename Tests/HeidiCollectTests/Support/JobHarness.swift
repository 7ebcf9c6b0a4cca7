import HeidiCore
import Synchronization

@testable import HeidiCollect

/// Runs a collection in process and keeps what it logged.
struct JobHarness: Sendable {
    let directory: TemporaryDirectory
    var output: String { directory.file("out.jsonl") }

    init() throws { directory = try TemporaryDirectory() }

    func run(
        _ tasks: [PromptTask],
        settings: CollectSettings,
        provider: any TeacherProvider,
        validator: (any SampleValidator)? = nil,
        keepRejected: Bool = false,
        output name: String = "out.jsonl",
        notify: String? = nil
    ) async -> (CollectReport, LogCapture) {
        let log = LogCapture()
        let job = CollectJob(
            tasks: tasks,
            settings: settings,
            provider: provider,
            validator: validator,
            output: AtomicOutputFile(path: directory.file(name)),
            round: 1,
            keepRejected: keepRejected,
            progress: ProgressOptions(quiet: true, interval: 60, notifyAddress: notify)
        )
        let report = await CollectRun.run(job, log: log.sink)
        return (report, log)
    }
}

extension CollectSettings {
    /// Fast test defaults: tiny backoff.
    static func test(
        concurrency: Int = 8,
        timeout: Double = 10,
        retries: Int = 3,
        budget: Budget = Budget(),
        price: Price = .free,
        seed: UInt64 = 42,
        maxOutputTokens: Int = 512
    ) -> CollectSettings {
        CollectSettings(
            model: "test-model",
            seed: seed,
            concurrency: concurrency,
            timeout: timeout,
            retry: RetryPolicy(retries: retries, baseDelay: 0.005, maxDelay: 0.02),
            budget: budget,
            price: price,
            maxOutputTokens: maxOutputTokens
        )
    }
}

/// Wraps a provider and records how many requests were in flight at once.
final class ConcurrencyProbe: TeacherProvider {
    let inner: any TeacherProvider
    private let state = Mutex<(current: Int, peak: Int, calls: Int)>((0, 0, 0))
    var name: String { inner.name }
    var peak: Int { state.withLock { $0.peak } }
    var calls: Int { state.withLock { $0.calls } }

    init(_ inner: any TeacherProvider) { self.inner = inner }

    func complete(_ request: TeacherRequest) async throws(ProviderError) -> TeacherResponse {
        state.withLock { value in
            value.current += 1
            value.calls += 1
            value.peak = max(value.peak, value.current)
        }
        defer { state.withLock { $0.current -= 1 } }
        return try await inner.complete(request)
    }

    func shutdown() async { await inner.shutdown() }
}
