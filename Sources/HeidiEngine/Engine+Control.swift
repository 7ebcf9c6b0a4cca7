import HeidiAPI
import HeidiControl
import HeidiCore

extension Engine: ControlBackend {
    /// Read from the status board: never waits for the actor, which may be busy with a stage's output.
    public nonisolated func publishedStatus() -> StatusSnapshot? { statusBoard.read(now: clock.now()) }

    /// The status: as published, or (before `open()` has published anything) as the engine sees it.
    public nonisolated func status() async -> StatusSnapshot {
        if let published = publishedStatus() { return published }
        return await snapshot()
    }

    public func isReady() async -> Bool { ready && !shuttingDown }

    public func perform(_ action: Action, start: StartRequest?) async -> Result<ActionResponse, APIErrorBody> {
        if shuttingDown { return .failure(APIErrorBody(.unavailable, "heidid is shutting down")) }
        if let refusal = journalRefusal(for: action) { return .failure(refusal) }
        let outcome: PipelineOutcome
        switch action {
        case .start: outcome = startRun(start ?? StartRequest())
        case .stop: outcome = submit(.stop)
        case .pause: outcome = submit(.pause)
        case .resume: outcome = submit(.resume)
        case .step: outcome = submit(.step)
        case .reset: outcome = submit(.reset)
        case .trainNow: outcome = submit(.trainNow)
        }
        if outcome.isAccepted, let failure = journalFailure(after: action) { return .failure(failure) }
        switch outcome {
        case .accepted(let note):
            return .success(ActionResponse(action: action.rawValue, outcome: note, state: state.phase, runID: state.runID))
        case .refused(let reason):
            return .failure(APIErrorBody(.invalidState, "\(action.rawValue) refused: \(reason)"))
        }
    }

    /// Starts a new run with the request's mode and rounds, or the configured ones.
    func startRun(_ request: StartRequest) -> PipelineOutcome {
        let runsDirectory = config.stateDir + "/runs"
        let runID: String
        if let fixed = config.nextRunID, !FileSystem.exists(runsDirectory + "/" + fixed) {
            runID = fixed
            config.nextRunID = nil
        } else {
            runID = RunID.make(at: clock.now()) { FileSystem.exists(runsDirectory + "/" + $0) }
        }
        let outcome = submit(.start(mode: request.mode ?? config.mode, rounds: request.rounds ?? config.rounds,
                                    runUnitTests: config.runUnitTests, runID: runID, paused: request.paused ?? false,
                                    discard: request.discard ?? false))
        if outcome.isAccepted { try? FileSystem.createDirectories(config.runDirectory(runID)) }
        return outcome
    }

    public func logs(stage: String, round: Int?, tail: Int?, fromLine: Int?, follow: Bool) async -> Result<LogStream, APIErrorBody> {
        guard let stage = Stage(rawValue: stage) else { return .failure(APIErrorBody(.badRequest, "unknown stage \(stage)")) }
        guard let runID = state.runID else { return .failure(APIErrorBody(.notFound, "no run yet: there are no stage logs")) }
        let round = round ?? max(1, state.round)
        let path = "\(config.runDirectory(runID))/logs/round-\(round)/\(stage.rawValue).log"
        let exists = FileSystem.exists(path)
        if !exists && !follow {
            return .failure(APIErrorBody(.notFound, "no log for \(stage.rawValue) in round \(round) of \(runID) (\(path))"))
        }
        var firstLine = 0
        let readBacklog = { () -> [[UInt8]] in
            guard let bytes = try? FileSystem.read(path) else { return [] }
            var lines = bytes.split(separator: 0x0a, omittingEmptySubsequences: false)
            if lines.last?.isEmpty == true { lines.removeLast() }
            firstLine = min(lines.count, fromLine ?? tail.map { max(0, lines.count - $0) } ?? 0)
            return lines[firstLine...].map { Array($0) + [0x0a] }
        }
        if follow && !shuttingDown {
            let chunks = logBroadcaster.follow(stage: stage, round: round, backlog: readBacklog)
            return .success(LogStream(firstLine: firstLine, chunks: chunks))
        }
        let backlog = readBacklog()
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        for chunk in backlog { continuation.yield(chunk) }
        continuation.finish()
        return .success(LogStream(firstLine: firstLine, chunks: stream))
    }

    public func metrics() async -> String { metricsText() }
}
