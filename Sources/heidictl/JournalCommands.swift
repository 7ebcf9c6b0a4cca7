#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import HeidiAPI
import HeidiCore

struct Journal: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Work with the hash-chained journal.", subcommands: [Verify.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify journal files offline: schema, key order, seq continuity and the hash chain.",
            discussion: """
            Without FILES, verifies the configured journal (<state_dir>/events.jsonl). A single live journal is checked together with its rotated files (events.<seq>.jsonl) and against the head recorded in the state.json beside it, so a cut-off or edited tail is detected too. Several FILES are checked in the order given, as one chain. Exit status: 0 intact, 1 tampered, broken or torn tail, 2 usage, 5 unreadable.
            """)

        @Argument(help: "Journal files (default: the configured journal).")
        var files: [String] = []

        @OptionGroup var global: GlobalOptions

        func run() throws {
            let environment = global.environment
            var files = files
            if files.isEmpty {
                do {
                    files = [try ConfigLoader.load(path: global.config, environment: environment).journalPath]
                } catch {
                    printError("heidictl: \(error)")
                    throw ExitCode(2)
                }
            }
            var anchors: [JournalAnchor] = []
            if files.count == 1 {
                let live = files[0]
                files = RotatedJournals.all(besides: live) + [live]
                let statePath = FileSystem.dirname(live) + "/state.json"
                if let state = try? StateFile.read(from: statePath), state.status.journal.seq > 0,
                    FileSystem.resolve(state.status.journal.path, against: "/") == FileSystem.resolve(live, against: FileSystem.currentDirectory())
                {
                    anchors.append(JournalAnchor(seq: state.status.journal.seq, hash: state.status.journal.head, source: statePath))
                }
            }
            let report: VerificationReport
            do { report = try JournalVerifier.verify(files: files, anchors: anchors) } catch {
                printError("heidictl: cannot read the journal: \(error)")
                throw ExitCode(5)
            }
            if global.json { writeOut(Array(VerifyOutput.json(report, anchors: anchors).utf8)) } else { print(VerifyOutput.human(report, anchors: anchors)) }
            if report.outcome != .intact { throw ExitCode(1) }
        }
    }
}

/// Renders a verification report.
enum VerifyOutput {
    static func human(_ r: VerificationReport, anchors: [JournalAnchor]) -> String {
        let range = r.firstSeq.map { "seq \($0)–\(r.lastSeq ?? $0)" } ?? "no lines"
        var lines: [String] = []
        switch r.outcome {
        case .intact:
            lines.append("intact: \(r.lines) lines, \(range), head \(r.headHash ?? SHA256.zeroHex)")
        case .tornTail(let bytes):
            lines.append("torn tail: \(bytes) bytes after the last complete line (\(range)); recoverable: heidid cuts it off on its next start")
        case .broken(let file, let line, let reason):
            lines.append("BROKEN: \(file) line \(line): \(reason)")
            lines.append("  verified before it: \(r.lines) lines, \(range)")
        }
        lines.append("  files: \(r.files.joined(separator: ", "))")
        for anchor in anchors { lines.append("  checked against \(anchor.source) (seq \(anchor.seq))") }
        for note in r.notes { lines.append("  note: \(note)") }
        return lines.joined(separator: "\n")
    }

    static func json(_ r: VerificationReport, anchors: [JournalAnchor]) -> String {
        var result: String
        var fields: [String] = []
        switch r.outcome {
        case .intact: result = "intact"
        case .tornTail(let bytes): result = "torn_tail"; fields.append("\"torn_bytes\":\(bytes)")
        case .broken(let file, let line, let reason):
            result = "broken"
            fields.append("\"file\":\(JSONText.quoted(file)),\"line\":\(line),\"reason\":\(JSONText.quoted(reason))")
        }
        let head = r.headHash.map(JSONText.quoted) ?? "null"
        var out = "{\"result\":\"\(result)\",\"lines\":\(r.lines),\"first_seq\":\(r.firstSeq.map(String.init) ?? "null"),"
        out += "\"last_seq\":\(r.lastSeq.map(String.init) ?? "null"),\"head\":\(head),"
        out += "\"files\":[\(r.files.map(JSONText.quoted).joined(separator: ","))],"
        out += "\"anchors\":[\(anchors.map { JSONText.quoted($0.source) }.joined(separator: ","))]"
        for field in fields { out += "," + field }
        out += ",\"notes\":[\(r.notes.map(JSONText.quoted).joined(separator: ","))]}\n"
        return out
    }
}
