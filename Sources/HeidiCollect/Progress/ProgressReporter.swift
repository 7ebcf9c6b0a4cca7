import HeidiCore

/// Where progress goes: one line on stderr now and then (unless quiet), and the progress channel when heidid
/// gave the stage one.
public struct ProgressOptions: Sendable {
    /// No progress lines on stderr (errors and the summary still appear).
    public var quiet: Bool
    /// Seconds between stderr progress lines.
    public var interval: Double
    /// `HEIDI_NOTIFY_SOCKET`, when set.
    public var notifyAddress: String?

    public init(quiet: Bool = false, interval: Double = 5, notifyAddress: String? = nil) {
        self.quiet = quiet
        self.interval = interval
        self.notifyAddress = notifyAddress
    }
}

/// Reports a running collection: samples the counters four times a second, sends a datagram when they changed
/// (so at most ~4/s), prints a one-line summary to stderr every `interval`, and flushes everything at the end.
public actor ProgressReporter {
    /// Time between samples (and at least this much between datagrams).
    static let tick: Duration = .milliseconds(250)

    private let options: ProgressOptions
    private let total: Int
    private let sender: NotifySender?
    private let printer: @Sendable (String) -> Void
    private var message = ProgressChannelMessage()
    private var lastLine: ContinuousClock.Instant
    private var lastPrinted: LedgerSnapshot?
    private let started: ContinuousClock.Instant
    private let clock = ContinuousClock()

    /// `printer` writes one line to stderr.
    public init(options: ProgressOptions, total: Int, printer: @escaping @Sendable (String) -> Void) {
        self.options = options
        self.total = total
        sender = options.notifyAddress.flatMap(NotifySender.init(address:))
        self.printer = printer
        started = clock.now
        lastLine = clock.now
    }

    /// Reports until cancelled.
    public func run(_ snapshot: @escaping @Sendable () async -> LedgerSnapshot) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: Self.tick) } catch { return }
            update(await snapshot())
        }
    }

    func update(_ snapshot: LedgerSnapshot) {
        send(status: "generating \(snapshot.done)/\(total)\(Self.detail(snapshot))", snapshot)
        guard !options.quiet, clock.now - lastLine >= .nanoseconds(Int64(options.interval * 1e9)),
            snapshot != lastPrinted
        else {
            return
        }
        lastLine = clock.now
        lastPrinted = snapshot
        printer(line(snapshot))
    }

    /// The final datagram (everything not yet sent, with the final status) and no more lines.
    public func finish(_ snapshot: LedgerSnapshot, status: String) {
        send(status: status, snapshot, waitingUpTo: 1)
    }

    /// Increments count as sent only once a datagram carrying them went out: when the listener's queue is full
    /// (EAGAIN), they ride along with the next one, so heidid's sums still equal the totals.
    private func send(status: String, _ snapshot: LedgerSnapshot, waitingUpTo seconds: Double = 0) {
        var draft = message
        guard let sender, let datagram = draft.next(status: status, snapshot: snapshot) else { return }
        if sender.send(datagram, waitingUpTo: seconds) { message = draft }
    }

    /// `120/400 done: 110 ok, 3 failed, 7 rejected | 95.2 req/s | tokens 12345 in, 67890 out | 4 retries, 2 rate limited | $0.0123 | 12.5s`
    func line(_ snapshot: LedgerSnapshot) -> String {
        let seconds = Self.seconds(clock.now - started)
        let rate = seconds > 0 ? Double(snapshot.requestsSent) / seconds : 0
        let ok = snapshot.generated - snapshot.rejected
        var text = "\(snapshot.done)/\(total) done: \(ok) ok, \(snapshot.failed) failed, \(snapshot.rejected) rejected"
        text += " | \(Self.fixed(rate, 1)) req/s | tokens \(snapshot.inputTokens) in, \(snapshot.outputTokens) out"
        if snapshot.retries > 0 || snapshot.rateLimitsHit > 0 {
            text += " | \(snapshot.retries) retries, \(snapshot.rateLimitsHit) rate limited"
        }
        if snapshot.costMicros > 0 { text += " | \(Ledger.dollars(snapshot.costMicros))" }
        return text + " | \(Units.formatDuration(seconds))"
    }

    static func detail(_ snapshot: LedgerSnapshot) -> String {
        var parts: [String] = []
        if snapshot.rejected > 0 { parts.append("\(snapshot.rejected) rejected") }
        if snapshot.failed > 0 { parts.append("\(snapshot.failed) failed") }
        return parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")"
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        return String((value * scale).rounded() / scale)
    }
}
