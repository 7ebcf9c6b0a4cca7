import HeidiCore
import HeidiSupervisor
import Synchronization

/// Reads a running stage's progress from its raw output (`progress:`): the stdout and stderr reader threads feed it
/// every read, before lines are assembled, so tqdm's carriage-return redraws count as they happen. Status reads the
/// newest `ChildProgress` without the engine; `onChange` (systemd's status line) hears of changes at most once a
/// second.
final class StageProgressMeter: Sendable {
    static let notifyInterval: UInt64 = 1_000_000_000

    private struct State {
        var stdout: ProgressScanner
        var stderr: ProgressScanner
        var tracker = ProgressTracker()
        var lastNotified: UInt64 = 0
    }

    private let state: Mutex<State>
    private let onChange: @Sendable () -> Void

    /// Nil when `format` is a pattern that does not compile (the config reader refuses those first).
    init?(format: ProgressFormat, onChange: @escaping @Sendable () -> Void) {
        guard let recogniser = ProgressRecogniser(format) else { return nil }
        state = Mutex(
            State(stdout: ProgressScanner(recogniser: recogniser), stderr: ProgressScanner(recogniser: recogniser))
        )
        self.onChange = onChange
    }

    /// The `OutputTap` of the stage.
    func observe(_ stream: OutputStream, _ bytes: UnsafeRawBufferPointer) {
        let notify = state.withLock { state -> Bool in
            let reading = stream == .stdout ? state.stdout.feed(bytes) : state.stderr.feed(bytes)
            let now = MonotonicClock.nanoseconds()
            guard let reading, state.tracker.record(reading, at: Double(now) / 1e9) else { return false }
            guard now - state.lastNotified >= Self.notifyInterval else { return false }
            state.lastNotified = now
            return true
        }
        if notify { onChange() }
    }

    /// What status shows as `child.progress`.
    var current: ChildProgress? { state.withLock { $0.tracker.current } }
}

/// `/metrics` families for the running stage's output progress (only while it has a reading).
enum ProgressMetrics {
    static func write(_ progress: ChildProgress, stage: String, to out: inout PrometheusText) {
        let labels = ["stage": stage]
        out.family("heidi_stage_progress_done", .gauge, "Items the running stage reports done (from its output).") {
            $0.sample(progress.done, labels)
        }
        if let total = progress.total {
            out.family("heidi_stage_progress_total", .gauge, "Items the running stage reports in total.") {
                $0.sample(total, labels)
            }
        }
        if let percent = progress.percent {
            out.family("heidi_stage_progress_ratio", .gauge, "Fraction of the running stage's items done (0-1).") {
                $0.sample(percent / 100, labels)
            }
        }
        if let rate = progress.rate {
            out.family("heidi_stage_progress_rate", .gauge, "Items per second of the running stage.") {
                $0.sample(rate, labels)
            }
        }
        if let eta = progress.etaSeconds {
            out.family(
                "heidi_stage_progress_eta_seconds",
                .gauge,
                "Seconds the running stage has left, by its progress."
            ) {
                $0.sample(eta, labels)
            }
        }
    }
}
