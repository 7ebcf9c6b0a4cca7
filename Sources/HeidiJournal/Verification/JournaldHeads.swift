import HeidiCore
import HeidiSupervisor

#if canImport(Glibc)
import Glibc
#endif

/// Why journald's copy of the heads could not be read.
public enum JournaldError: Error, CustomStringConvertible, Equatable, Sendable {
    /// `journalctl` could not be run or failed.
    case command(String)
    /// The input is not `journalctl -o json` output.
    case badOutput(line: Int, reason: String)

    public var description: String {
        switch self {
        case .command(let message): return "journalctl: \(message)"
        case .badOutput(let line, let reason): return "line \(line) is not journalctl -o json output: \(reason)"
        }
    }
}

/// journald's copy of the chain heads: the `HEIDI_SEQ` and `HEIDI_HASH` fields heidid sends with every event.
///
/// Entries whose trusted `_UID` is not the journal owner's are ignored: any local user can send journald entries
/// with any fields, so foreign entries could only raise false alarms, but they never count as evidence.
public struct JournaldHeads: Sendable, Equatable {
    /// One journald entry of a journal line.
    public struct Entry: Sendable, Equatable {
        public var seq: UInt64
        public var hash: Digest
        /// `__REALTIME_TIMESTAMP`: when journald received it (µs since the epoch); entries older than the first
        /// verified line belong to an earlier journal and are skipped.
        public var time: Int64
    }

    /// Entries sorted by seq.
    public private(set) var entries: [Entry]
    /// Entries skipped: malformed HEIDI fields or another user's.
    public private(set) var ignored: Int

    public init(entries: [Entry], ignored: Int = 0) {
        self.entries = entries.sorted { $0.seq < $1.seq }
        self.ignored = ignored
    }

    /// Parses `journalctl -o json` output (one object per line); entries without `HEIDI_SEQ` are not events and are
    /// skipped. With `trustedUID`, entries from other users are ignored.
    public static func parse(_ output: [UInt8], trustedUID: UInt32? = nil) throws(JournaldError) -> JournaldHeads {
        var entries: [Entry] = []
        var ignored = 0
        var number = 0
        for line in output.split(separator: 0x0a) {
            number += 1
            let value: JSONValue
            do { value = try StrictJSONParser.parse(line) } catch { throw .badOutput(line: number, reason: "\(error)") }
            guard case .object = value else { throw .badOutput(line: number, reason: "not a JSON object") }
            guard let seqField = value[JournaldField.seq] else { continue }
            if let trustedUID, value[JournaldField.uid]?.stringValue != String(trustedUID) {
                ignored += 1
                continue
            }
            guard let seqText = seqField.stringValue, let seq = Statement.number(Substring(seqText)),
                let hash = value[JournaldField.hash]?.stringValue.flatMap(Digest.init(hex:))
            else {
                ignored += 1
                continue
            }
            let time = value[JournaldField.realtime]?.stringValue.flatMap { Int64($0) } ?? Int64.max
            entries.append(Entry(seq: seq, hash: hash, time: time))
        }
        return JournaldHeads(entries: entries, ignored: ignored)
    }

    /// Runs `journalctl -o json` for heidid's entries (`SYSLOG_IDENTIFIER=heidid` plus `matches`), optionally on the
    /// journal files in `directory`, and returns its output.
    public static func query(directory: String?, matches: [String]) throws(JournaldError) -> [UInt8] {
        var argv = [
            "journalctl", "-o", "json", "--no-pager",
            "--output-fields=\(JournaldField.seq),\(JournaldField.hash),\(JournaldField.uid)",
        ]
        if let directory { argv.append("--directory=\(directory)") }
        argv += ["SYSLOG_IDENTIFIER=\(JournaldField.daemonIdentifier)"] + matches
        let result: CommandRunner.Output
        do { result = try CommandRunner.run(argv) } catch { throw .command(error.description) }
        guard result.status == 0 else {
            let message =
                String(decoding: result.stderr, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
            throw .command("exited with status \(result.status)\(message.isEmpty ? "" : ": \(message)")")
        }
        return result.stdout
    }
}
