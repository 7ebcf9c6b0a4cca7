import HeidiAPI
import HeidiControl
import HeidiCore
import HeidiSupervisor

/// What heidi-web asks of heidid (SPEC §12): actions journalled with who asked, and stages' training scalars.
extension Engine {
    /// Carries out an action for `actor` (heidi-web's `X-Heidi-Actor`: the logged-in user, how they authenticated,
    /// and their address): the first journal event the action records, its own (`pipeline_start`, `pipeline_stop`,
    /// `train_now_trigger`, …), ends with `(by <actor>)`. `perform(_:start:)` has no suspension point, so no other
    /// request interleaves while `actionActor` is set.
    public func perform(
        _ action: Action,
        start: StartRequest?,
        actor: String?
    ) async -> Result<ActionResponse, APIErrorBody> {
        actionActor = actor.map(Self.actorText).flatMap { $0.isEmpty ? nil : $0 }
        defer { actionActor = nil }
        return await perform(action, start: start)
    }

    /// Printable ASCII, at most 200 characters: an actor is a label, never a way to forge journal text.
    static func actorText(_ raw: String) -> String {
        String(String.UnicodeScalarView(raw.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7f }).prefix(200))
    }

    /// The message of an event recorded for an action with an actor (consumed by the first event).
    func attributed(_ draft: EventDraft) -> EventDraft {
        guard let actor = actionActor else { return draft }
        actionActor = nil
        var draft = draft
        draft.message += " (by \(actor))"
        return draft
    }

    /// `GET /api/v1/scalars?run_id=`: the run's series (the current or last run without `run_id`).
    public func scalars(runID: String?) async -> Result<[UInt8], APIErrorBody> {
        guard let runID = runID ?? state.runID else {
            return .failure(APIErrorBody(.notFound, "no run yet: there are no scalars"))
        }
        var store = scalarStore
        if let current, current.runID == runID, let series = current.handle.progress?.scalars {
            store.update(runID: runID, round: current.round, stage: current.stage.rawValue, series: series)
        }
        return .success(store.json(runID: runID))
    }

    /// Copies the running (or just finished) stage's scalars into the store.
    func keepScalars(of stage: CurrentStage, progress: StageProgress?) {
        guard let series = progress?.scalars, !series.isEmpty, let runID = stage.runID else { return }
        scalarStore.update(runID: runID, round: stage.round, stage: stage.stage.rawValue, series: series)
    }
}
