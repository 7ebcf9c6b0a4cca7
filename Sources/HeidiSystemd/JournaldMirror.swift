import HeidiCore
import HeidiSupervisor

/// Journal events and child output to journald through `sd_journal_sendv` (SPEC §7), with the fields of
/// `JournaldField`; the engine's `EventMirror`.
public struct JournaldMirror: Sendable {
    public init() {}

    public func event(_ event: WrittenEvent) {
        let draft = event.draft
        JournaldSender.send([
            ("MESSAGE", Redactor.redact(draft.message)),
            ("PRIORITY", String(draft.level.syslogPriority)),
            ("SYSLOG_IDENTIFIER", JournaldField.daemonIdentifier),
            ("MESSAGE_ID", draft.type.messageID),
            (JournaldField.eventType, draft.type.rawValue),
            (JournaldField.seq, String(event.seq)),
            (JournaldField.hash, event.hash),
            (JournaldField.runID, draft.runID ?? ""),
            (JournaldField.round, String(draft.round)),
            (JournaldField.stage, draft.stage ?? ""),
        ])
    }

    public func childLine(_ line: OutputLine, stage: Stage, round: Int, runID: String?, pid: Int32) {
        JournaldSender.send([
            ("MESSAGE", line.text),
            ("PRIORITY", line.stream == .stdout ? "6" : "4"),
            ("SYSLOG_IDENTIFIER", "heidi-\(stage.rawValue)"),
            (JournaldField.stage, stage.rawValue),
            (JournaldField.round, String(round)),
            (JournaldField.runID, runID ?? ""),
            (JournaldField.childPID, String(pid)),
        ])
    }
}
