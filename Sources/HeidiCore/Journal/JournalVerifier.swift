/// The verdict of an offline journal check.
public enum VerificationOutcome: Sendable, Equatable {
    /// Every line parses, chains and continues; the head matches every anchor given.
    case intact
    /// Intact up to a partial last line (a crash mid-write); heidid cuts it off on its next start.
    case tornTail(bytes: Int)
    /// The first line that is wrong, and why.
    case broken(file: String, line: Int, reason: String)
}

/// The full result of `JournalVerifier.verify`.
public struct VerificationReport: Sendable, Equatable {
    public var outcome: VerificationOutcome
    public var files: [String]
    public var lines: Int
    public var firstSeq: UInt64?
    public var lastSeq: UInt64?
    public var headHash: String?
    /// Observations that are not failures (e.g. the chain starts after seq 1 because older files were not given).
    public var notes: [String]
}

/// The chain head recorded outside the journal (state.json), to detect a cut-off or edited tail.
public struct JournalAnchor: Sendable, Equatable {
    public var seq: UInt64
    public var hash: String
    public var source: String

    public init(seq: UInt64, hash: String, source: String) {
        self.seq = seq
        self.hash = hash
        self.source = source
    }
}

/// Strict offline verification of journal files: schema, key order, types, seq continuity and the hash chain.
/// It hashes the exact line bytes and never re-serialises.
public enum JournalVerifier {
    private static let levels = Set(EventLevel.allCases.map(\.rawValue))

    public static func verify(files: [String], anchors: [JournalAnchor] = []) throws(FileSystemError) -> VerificationReport {
        var report = VerificationReport(outcome: .intact, files: files, lines: 0, notes: [])
        var previousHash: String?
        var expectedSeq: UInt64?
        var anchorHashes: [UInt64: String] = [:]
        let anchorSeqs = Set(anchors.map(\.seq))

        for (fileIndex, file) in files.enumerated() {
            let bytes = try FileSystem.read(file)
            var lineStart = 0
            var lineNumber = 0
            while lineStart < bytes.count {
                lineNumber += 1
                guard let newline = bytes[lineStart...].firstIndex(of: 0x0a) else {
                    let torn = bytes.count - lineStart
                    if fileIndex == files.count - 1 {
                        report.outcome = .tornTail(bytes: torn)
                    } else {
                        report.outcome = .broken(file: file, line: lineNumber, reason: "rotated file ends in a partial line")
                    }
                    return finish(report, anchors: anchors, anchorHashes: anchorHashes)
                }
                let line = bytes[lineStart...newline]
                lineStart = newline + 1
                do {
                    let seq = try check(line: Array(line), expectedSeq: expectedSeq, previousHash: previousHash, report: &report)
                    expectedSeq = seq + 1
                    previousHash = SHA256.hex(line)
                    if anchorSeqs.contains(seq) { anchorHashes[seq] = previousHash }
                    report.lines += 1
                    if report.firstSeq == nil { report.firstSeq = seq }
                    report.lastSeq = seq
                    report.headHash = previousHash
                } catch {
                    report.outcome = .broken(file: file, line: lineNumber, reason: error.reason)
                    return report
                }
            }
        }
        return finish(report, anchors: anchors, anchorHashes: anchorHashes)
    }

    private static func finish(
        _ report: VerificationReport, anchors: [JournalAnchor], anchorHashes: [UInt64: String]
    ) -> VerificationReport {
        var report = report
        for anchor in anchors {
            let lastSeq = report.lastSeq ?? 0
            let where_ = report.files.last ?? "journal"
            if anchor.seq > lastSeq {
                report.outcome = .broken(
                    file: where_, line: report.lines + 1,
                    reason: "\(anchor.source) records seq \(anchor.seq) but the journal ends at seq \(lastSeq): "
                        + "lines were cut off")
                return report
            }
            if let seen = anchorHashes[anchor.seq], seen != anchor.hash {
                report.outcome = .broken(
                    file: where_, line: report.lines,
                    reason: "the line with seq \(anchor.seq) does not match the head recorded in \(anchor.source): "
                        + "it was edited")
                return report
            }
        }
        return report
    }

    struct LineError: Error { var reason: String }

    private static func check(
        line: [UInt8], expectedSeq: UInt64?, previousHash: String?, report: inout VerificationReport
    ) throws(LineError) -> UInt64 {
        guard line.count <= JournalLineEncoder.maxLineBytes + 1 else { throw LineError(reason: "line longer than 64 KiB") }
        let value: JSONValue
        do { value = try StrictJSONParser.parse(line.dropLast(), compact: true) } catch {
            throw LineError(reason: "not compact JSON: \(error)")
        }
        guard case .object(let members) = value else { throw LineError(reason: "not a JSON object") }
        let keys = members.map(\.key)
        guard keys == JournalLineEncoder.keys else {
            throw LineError(reason: "keys are \(keys.joined(separator: ",")); expected \(JournalLineEncoder.keys.joined(separator: ","))")
        }
        guard value["event_version"]?.stringValue == "2" else { throw LineError(reason: "event_version is not \"2\"") }
        guard let seqValue = value["seq"]?.int64Value, seqValue >= 1, case .number(let seqText) = value["seq"],
            !seqText.contains(".") && !seqText.contains("e") && !seqText.contains("E")
        else { throw LineError(reason: "seq is not a positive integer") }
        let seq = UInt64(seqValue)
        guard let ts = value["ts"]?.stringValue, Timestamp(parsing: ts) != nil else {
            throw LineError(reason: "ts is not an RFC 3339 UTC timestamp")
        }
        guard let runID = value["run_id"], runID.isNull || runID.stringValue != nil else {
            throw LineError(reason: "run_id is neither a string nor null")
        }
        guard let round = value["round"]?.int64Value, round >= 0 else { throw LineError(reason: "round is not an integer >= 0") }
        guard let stage = value["stage"], stage.isNull || stage.stringValue != nil else {
            throw LineError(reason: "stage is neither a string nor null")
        }
        guard let level = value["level"]?.stringValue, levels.contains(level) else {
            throw LineError(reason: "level is not one of debug, info, warn, error, critical")
        }
        guard let type = value["event_type"]?.stringValue, !type.isEmpty else { throw LineError(reason: "event_type is not a string") }
        guard value["message"]?.stringValue != nil else { throw LineError(reason: "message is not a string") }
        for key in ["counters_delta", "usage_delta"] {
            guard case .object(let entries) = value[key] else { throw LineError(reason: "\(key) is not an object") }
            guard entries.allSatisfy({ if case .number = $0.value { return true }; return false }) else {
                throw LineError(reason: "\(key) holds a value that is not a number")
            }
            let names = entries.map { Array($0.key.utf8) }
            guard zip(names, names.dropFirst()).allSatisfy({ $0.lexicographicallyPrecedes($1) }) else {
                throw LineError(reason: "\(key) keys are not sorted")
            }
        }
        guard case .array(let paths) = value["artifact_paths"], paths.allSatisfy({ $0.stringValue != nil }) else {
            throw LineError(reason: "artifact_paths is not an array of strings")
        }
        guard let prev = value["prev_hash"]?.stringValue, Hex.isLowercaseHex(Substring(prev), length: 64) else {
            throw LineError(reason: "prev_hash is not 64 lowercase hex digits")
        }
        if let expectedSeq {
            guard seq == expectedSeq else {
                throw LineError(reason: seq < expectedSeq
                    ? "seq \(seq) repeats or goes back (expected \(expectedSeq))"
                    : "seq jumps from \(expectedSeq - 1) to \(seq): lines are missing")
            }
        } else if seq == 1 {
            guard prev == SHA256.zeroHex else { throw LineError(reason: "the first line's prev_hash is not 64 zeros") }
        } else {
            report.notes.append("the chain starts at seq \(seq); earlier files were not checked")
        }
        if let previousHash, prev != previousHash {
            throw LineError(reason: "prev_hash does not match the SHA-256 of the previous line (chain broken)")
        }
        return seq
    }
}
