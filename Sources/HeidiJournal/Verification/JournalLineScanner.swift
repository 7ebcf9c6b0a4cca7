import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// The fields of one journal line that verification uses, as located by `JournalLineScanner`: values and byte
/// offsets into the line (which excludes its newline).
struct ScannedLine {
    var seq: UInt64
    /// `ts` in microseconds since the epoch.
    var time: Int64
    /// The raw bytes of the `event_type` and `message` string contents (between the quotes, still escaped).
    var eventType: Range<Int>
    var message: Range<Int>
    /// Where the 64 hex digits of `prev_hash` start.
    var prevHash: Int
}

/// Why a line is not a v2 journal line.
struct LineDefect: Error, Equatable {
    var reason: String
}

/// A single strict pass over one journal line: SPEC §7's keys in their order, the type of every value, compact
/// RFC 8259 JSON with valid UTF-8 in strings, sorted delta keys, and a canonical `ts`. It allocates nothing for a
/// valid line, which is what lets `heidictl journal verify` run at disk speed.
enum JournalLineScanner {
    /// Scans `line` (a trailing newline is ignored).
    static func scan(_ line: [UInt8]) throws(LineDefect) -> ScannedLine {
        let body = line.last == 0x0a ? line.count - 1 : line.count
        let result: Result<ScannedLine, LineDefect> = line.withUnsafeBufferPointer { buffer in
            Result { () throws(LineDefect) in try scan(UnsafeBufferPointer(rebasing: buffer.prefix(body))) }
        }
        return try result.get()
    }

    /// Scans the line in `bytes` (without its newline).
    static func scan(_ bytes: UnsafeBufferPointer<UInt8>) throws(LineDefect) -> ScannedLine {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { throw LineDefect(reason: "empty line") }
        var c = LineCursor(base: base, count: bytes.count)
        guard c.literal(#"{"event_version":"2","seq":"#) else { throw c.startDefect() }
        guard let seq = c.unsigned(), seq >= 1 else { throw c.valueDefect("seq is not a positive integer") }
        try c.key(#","ts":"#, "ts")
        guard let time = c.timestamp() else {
            throw c.valueDefect("ts is not a UTC timestamp like 2026-11-22T06:27:39.286123Z")
        }
        try c.key(#","run_id":"#, "run_id")
        if !c.literal("null") { _ = try c.string("run_id is neither a string nor null") }
        try c.key(#","round":"#, "round")
        guard c.unsigned() != nil else { throw c.valueDefect("round is not an integer >= 0") }
        try c.key(#","stage":"#, "stage")
        if !c.literal("null") { _ = try c.string("stage is neither a string nor null") }
        try c.key(#","level":"#, "level")
        guard
            c.literal(#""info""#) || c.literal(#""warn""#) || c.literal(#""error""#) || c.literal(#""debug""#)
                || c.literal(#""critical""#)
        else { throw c.valueDefect("level is not one of debug, info, warn, error, critical") }
        try c.key(#","event_type":"#, "event_type")
        let eventType = try c.string("event_type is not a string")
        guard !eventType.isEmpty else { throw c.valueDefect("event_type is empty") }
        try c.key(#","message":"#, "message")
        let message = try c.string("message is not a string")
        try c.key(#","counters_delta":"#, "counters_delta")
        try c.numberMap("counters_delta")
        try c.key(#","usage_delta":"#, "usage_delta")
        try c.numberMap("usage_delta")
        try c.key(#","artifact_paths":"#, "artifact_paths")
        try c.stringArray("artifact_paths")
        try c.key(#","prev_hash":""#, "prev_hash")
        let prevHash = c.i
        guard c.hex64(), c.literal(#""}"#) else {
            c.i = prevHash
            throw c.valueDefect("prev_hash is not 64 lowercase hex digits")
        }
        guard c.i == c.count else { throw c.defect("bytes after the end of the object") }
        return ScannedLine(seq: seq, time: time, eventType: eventType, message: message, prevHash: prevHash)
    }
}
