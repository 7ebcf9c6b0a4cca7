/// Encodes journal lines in the v2 format: compact JSON, fixed key order, at most 64 KiB.
public enum JournalLineEncoder {
    /// The keys of a v2 line, in their required order.
    public static let keys = [
        "event_version", "seq", "ts", "run_id", "round", "stage", "level", "event_type", "message",
        "counters_delta", "usage_delta", "artifact_paths", "prev_hash",
    ]
    public static let maxLineBytes = 64 * 1024
    static let truncationMark = " …[truncated]"

    /// The line bytes (with `\n`) for `draft`; the message is redacted and, if the line would exceed 64 KiB, cut.
    public static func encode(_ draft: EventDraft, seq: UInt64, timestamp: Timestamp, prevHash: String) -> [UInt8] {
        var message = Redactor.redact(draft.message)
        var line = encode(draft, message: message, seq: seq, timestamp: timestamp, prevHash: prevHash)
        if line.count > maxLineBytes {
            // Escaping can expand a byte up to 6x: cut generously, then back off to a character boundary.
            let bytes = Array(message.utf8)
            var keep = max(0, bytes.count - (line.count - maxLineBytes) * 6 - truncationMark.utf8.count)
            while keep > 0, keep < bytes.count, bytes[keep] & 0xC0 == 0x80 { keep -= 1 }
            message = String(decoding: bytes[0..<keep], as: UTF8.self) + truncationMark
            line = encode(draft, message: message, seq: seq, timestamp: timestamp, prevHash: prevHash)
        }
        return line
    }

    private static func encode(
        _ draft: EventDraft,
        message: String,
        seq: UInt64,
        timestamp: Timestamp,
        prevHash: String
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + message.utf8.count)
        func key(_ name: String, first: Bool = false) {
            if !first { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        out.append(UInt8(ascii: "{"))
        key("event_version", first: true)
        JSONText.appendString("2", to: &out)
        key("seq")
        out.append(contentsOf: String(seq).utf8)
        key("ts")
        JSONText.appendTimestamp(timestamp.microseconds, to: &out)
        key("run_id")
        if let runID = draft.runID {
            JSONText.appendString(runID, to: &out)
        } else {
            out.append(contentsOf: "null".utf8)
        }
        key("round")
        out.append(contentsOf: String(max(0, draft.round)).utf8)
        key("stage")
        if let stage = draft.stage {
            JSONText.appendString(stage, to: &out)
        } else {
            out.append(contentsOf: "null".utf8)
        }
        key("level")
        JSONText.appendString(draft.level.rawValue, to: &out)
        key("event_type")
        JSONText.appendString(draft.type.rawValue, to: &out)
        key("message")
        JSONText.appendString(message, to: &out)
        key("counters_delta")
        JSONText.appendNumberMap(draft.countersDelta, to: &out)
        key("usage_delta")
        JSONText.appendNumberMap(draft.usageDelta, to: &out)
        key("artifact_paths")
        JSONText.appendStringArray(draft.artifactPaths.map(Redactor.redact), to: &out)
        key("prev_hash")
        JSONText.appendString(prevHash, to: &out)
        out.append(UInt8(ascii: "}"))
        out.append(0x0a)
        return out
    }
}

extension JournalLineEncoder {
    /// The fixed start of every v2 line, up to the seq digits.
    static let seqPrefix = Array(#"{"event_version":"2","seq":"#.utf8)

    /// The `seq` of a journal line, read from its fixed prefix without parsing the rest; nil if it has none.
    public static func seq<Line: Collection<UInt8>>(of line: Line) -> UInt64? {
        guard line.count > seqPrefix.count, line.prefix(seqPrefix.count).elementsEqual(seqPrefix) else { return nil }
        var value: UInt64 = 0
        var digits = 0
        for byte in line.dropFirst(seqPrefix.count) {
            guard (48...57).contains(byte), digits < 19 else { break }
            value = value * 10 + UInt64(byte - 48)
            digits += 1
        }
        return digits > 0 ? value : nil
    }
}
