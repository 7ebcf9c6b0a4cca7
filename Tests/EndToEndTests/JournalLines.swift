import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// One journal line as the tests see it: the exact bytes (with the newline) and the fields tests look at.
struct JournalLine {
    let bytes: [UInt8]
    let seq: Int64
    let runID: String?
    let round: Int64
    let stage: String?
    let level: String
    let type: String
    let message: String
    let prevHash: String
    var counters: [String: Double] = [:]
    var usage: [String: Double] = [:]
}

/// Reads journal files independently of the daemon's writer and heidictl's verifier, checking SPEC §7 on every line.
enum JournalLines {
    /// The keys of a journal line, in the only order allowed.
    static let keyOrder = [
        "event_version", "seq", "ts", "run_id", "round", "stage", "level", "event_type", "message", "counters_delta",
        "usage_delta", "artifact_paths", "prev_hash",
    ]

    /// Splits at newlines; every line keeps its `\n`. Bytes after the last newline are not a line.
    static func split(_ bytes: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var start = 0
        while let newline = bytes[start...].firstIndex(of: 0x0a) {
            lines.append(Array(bytes[start...newline]))
            start = newline + 1
        }
        return lines
    }

    /// Parses and checks every line: compact strict JSON, the exact key order, consecutive `seq` (starting at 1 when
    /// `fromStart`), and `prev_hash` equal to the SHA-256 of the previous line's bytes (zeros before seq 1).
    /// A `counters_delta`/`usage_delta` object as numbers.
    static func numbers(_ value: JSONValue?) -> [String: Double] {
        guard case .object(let members)? = value else { return [:] }
        var result: [String: Double] = [:]
        for (key, member) in members {
            if case .number(let text) = member, let number = Double(text) { result[key] = number }
        }
        return result
    }

    static func parse(_ bytes: [UInt8], fromStart: Bool = true) throws -> [JournalLine] {
        guard bytes.last == 0x0a else { throw HarnessError("the journal does not end with a newline") }
        var result: [JournalLine] = []
        for (index, bytes) in split(bytes).enumerated() {
            let number = index + 1
            let value: JSONValue
            do { value = try StrictJSONParser.parse(bytes.dropLast(), compact: true) } catch {
                throw HarnessError(
                    "journal line \(number) is not compact JSON (\(error)): \(String(decoding: bytes, as: UTF8.self))"
                )
            }
            guard case .object(let members) = value, members.map(\.key) == keyOrder else {
                throw HarnessError(
                    "journal line \(number) does not have the keys of SPEC §7 in order: \(String(decoding: bytes, as: UTF8.self))"
                )
            }
            guard value["event_version"]?.stringValue == "2", let seq = value["seq"]?.int64Value,
                let round = value["round"]?.int64Value, let level = value["level"]?.stringValue,
                let type = value["event_type"]?.stringValue, let message = value["message"]?.stringValue,
                let prevHash = value["prev_hash"]?.stringValue
            else {
                throw HarnessError(
                    "journal line \(number) has a field of the wrong type: \(String(decoding: bytes, as: UTF8.self))"
                )
            }
            var line = JournalLine(
                bytes: bytes,
                seq: seq,
                runID: value["run_id"]?.stringValue,
                round: round,
                stage: value["stage"]?.stringValue,
                level: level,
                type: type,
                message: message,
                prevHash: prevHash
            )
            line.counters = numbers(value["counters_delta"])
            line.usage = numbers(value["usage_delta"])
            if let previous = result.last {
                guard seq == previous.seq + 1 else {
                    throw HarnessError("journal line \(number): seq \(seq) follows \(previous.seq)")
                }
                guard prevHash == SHA256.hex(previous.bytes) else {
                    throw HarnessError(
                        "journal line \(number) (seq \(seq)): prev_hash does not match the previous line"
                    )
                }
            } else if fromStart {
                guard seq == 1, prevHash == SHA256.zeroHex else {
                    throw HarnessError(
                        "the first journal line has seq \(seq) and prev_hash \(prevHash), not 1 and 64 zeros"
                    )
                }
            }
            result.append(line)
        }
        return result
    }
}

extension Session {
    /// The journal, parsed and checked line by line.
    func events() throws -> [JournalLine] { try JournalLines.parse(try journalBytes()) }

    /// Polls the journal until an event of `type` is written; returns the whole journal then.
    @discardableResult
    func waitForEvent(_ type: String, timeout: Double = Session.patience) async throws -> [JournalLine] {
        try await waitUntil("a \(type) event", timeout: timeout) { () throws -> [JournalLine]? in
            let bytes = FileSystem.exists(journalPath) ? try journalBytes() : []
            // Only complete lines: the daemon may be in the middle of appending one.
            guard let end = bytes.lastIndex(of: 0x0a) else { return nil }
            let events = try JournalLines.parse(Array(bytes[...end]))
            return events.contains { $0.type == type } ? events : nil
        }
    }

    /// `sha256sum` of `bytes`: an implementation independent of the daemon's.
    func sha256sum(_ bytes: [UInt8]) async throws -> String {
        let path = dir.file("sha256-input")
        try FileSystem.writeAtomically(path, bytes, mode: 0o644)
        let tool = try requireTool("sha256sum")
        let result = try await Processes.run([tool, path])
        guard result.status == 0, result.stdout.count >= 64 else { throw HarnessError("sha256sum failed: \(result)") }
        return String(result.stdout.prefix(64))
    }
}

/// The path of a tool the test needs, or a failure that says it is missing.
func requireTool(_ name: String) throws -> String {
    guard let path = Binaries.onPath(name) else {
        throw HarnessError("\(name) is not installed (not found on PATH); this test needs it")
    }
    return path
}

extension Array where Element == JournalLine {
    /// The event types, in order.
    var types: [String] { map(\.type) }

    /// The lines of event `type`, optionally only those of `stage` and `round`.
    func of(_ type: String, stage: String? = nil, round: Int64? = nil) -> [JournalLine] {
        filter { $0.type == type && (stage == nil || $0.stage == stage) && (round == nil || $0.round == round) }
    }
}
