import HeidiAPI
import HeidiControl
import HeidiCore

extension Engine: ControlBackend {
    /// Read from the status board: never waits for the actor, which may be busy with a stage's output.
    public nonisolated func publishedStatus() -> StatusSnapshot? { statusBoard.read(now: clock.now()) }

    /// From the status board's template: only the live parts are encoded per request.
    public nonisolated func publishedStatusJSON() -> [UInt8]? { statusBoard.readJSON(now: clock.now()) }

    /// The status: as published, or (before `open()` has published anything) as the engine sees it.
    public nonisolated func status() async -> StatusSnapshot {
        if let published = publishedStatus() { return published }
        return await snapshot()
    }

    public func isReady() async -> Bool { lifecycle.isReady }

    /// The status now, then one document per change (NDJSON), until the daemon stops.
    public nonisolated func statusUpdates() -> AsyncStream<[UInt8]> { statusBoard.watch(now: clock.now()) }

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
            return .success(
                ActionResponse(action: action.rawValue, outcome: note, state: state.phase, runID: state.runID)
            )
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
        let outcome = submit(
            .start(
                mode: request.mode ?? config.mode,
                rounds: request.rounds ?? config.rounds,
                runUnitTests: config.runUnitTests,
                runID: runID,
                paused: request.paused ?? false,
                discard: request.discard ?? false
            )
        )
        if outcome.isAccepted { try? FileSystem.createDirectories(config.runDirectory(runID)) }
        return outcome
    }

    public func logs(
        stage: String,
        round: Int?,
        tail: Int?,
        fromLine: Int?,
        follow: Bool
    ) async -> Result<LogStream, APIErrorBody> {
        guard let stage = Stage(rawValue: stage) else {
            return .failure(APIErrorBody(.badRequest, "unknown stage \(stage)"))
        }
        guard let runID = state.runID else {
            return .failure(APIErrorBody(.notFound, "no run yet: there are no stage logs"))
        }
        let round = round ?? max(1, state.round)
        let path = stageLogPath(stage, round: round, runID: runID)
        if !follow && !FileSystem.exists(path) && !FileSystem.exists(path + ".1") {
            return .failure(
                APIErrorBody(.notFound, "no log for \(stage.rawValue) in round \(round) of \(runID) (\(path))")
            )
        }
        return .success(
            await Self.openLog(
                path,
                tail: tail,
                fromLine: fromLine,
                follow: follow && !shuttingDown,
                broadcaster: logBroadcaster
            )
        )
    }

    /// `<run_dir>/logs/round-<N>/<stage>.log` of the current run (or `runID`).
    func stageLogPath(_ stage: Stage, round: Int, runID: String? = nil) -> String {
        "\(config.runDirectory(runID ?? state.runID ?? "none"))/logs/round-\(round)/\(stage.rawValue).log"
    }

    /// Positions a reader of the log at `path` (off the actor: finding the tail reads the files) and wraps it as
    /// a stream pulled at the client's pace.
    private static func openLog(
        _ path: String,
        tail: Int?,
        fromLine: Int?,
        follow: Bool,
        broadcaster: LogBroadcaster
    ) async -> LogStream {
        let cursor = StageLogCursor(path: path)
        var firstLine = 0
        if let fromLine {
            firstLine = cursor.skipLines(fromLine)
        } else if let tail {
            let total = StageLogCursor(path: path).countLines()
            firstLine = cursor.skipLines(max(0, total - tail))
        }
        let rotated = FileSystem.exists(cursor.rotatedPath) ? cursor.rotatedPath : nil
        let feed = StageLogFeed(cursor: cursor, follow: follow, broadcaster: broadcaster)
        return LogStream(
            firstLine: firstLine,
            chunks: AsyncStream(unfolding: { await feed.next() }),
            rotatedPart: rotated,
            ending: { await feed.endingTrailer() }
        )
    }

    public func metrics() async -> String { metricsText() }
}
