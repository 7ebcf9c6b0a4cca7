import ArgumentParser
import HeidiAPI
import HeidiCore
import HeidiJournal

#if canImport(Glibc)
import Glibc
#endif

struct Journal: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Work with the hash-chained journal.",
        subcommands: [Verify.self]
    )

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Verify journal files offline: every line, the hash chain, checkpoints and outside anchors.",
            discussion: """
                Without FILES, verifies the configured journal (<state_dir>/events.jsonl) with the configured journal.key_file when it is readable. A single live journal is checked together with its rotated files (events.<seq>.jsonl), as a whole: history missing at the start must be explained by a journal_pruned record. It is also compared with the head recorded in the state.json beside it. Several FILES are checked in the order given, as one chain.

                With a key (--key, repeatable for rotated keys), checkpoints must exist, verify, use a given key id, come at least once per interval, and directly precede daemon_stop; a journal whose last checkpoint is overdue was cut off. --journald compares every line with the HEIDI_SEQ/HEIDI_HASH journald recorded for it (journalctl -o json; entries of other users are ignored).

                Verdicts: intact; intact with an unsealed tail (lines after the last checkpoint); torn tail (a crash cut the last line; heidid repairs it on start); broken (the first bad line and why); damaged (the chain verifies, but records damage heidid found when it started: journal_damaged). The output says what was checked and what was not (e.g. the tail, without a state.json beside the journal). Exit status: 0 intact (also with an unsealed tail), 1 torn, broken or damaged, 2 usage, 5 unreadable.
                """
        )

        @Argument(help: "Journal files (default: the configured journal).")
        var files: [String] = []

        @Option(
            name: .long,
            help: "A checkpoint key file (64 hex digits). Repeat for journals signed with several keys."
        )
        var key: [String] = []

        @Flag(name: .long, help: "Start at the newest checkpoint that verifies with the key; fast on large journals.")
        var sinceCheckpoint = false

        @Flag(name: .long, help: "Cross-check every line with the heads journald recorded (runs journalctl -o json).")
        var journald = false

        @Option(name: .long, help: "Read journald's files from DIR (journalctl --directory), e.g. a copy for an audit.")
        var journaldDirectory: String?

        @Option(name: .long, help: "Read saved 'journalctl -o json' output from FILE instead of running journalctl.")
        var journaldJson: String?

        @Option(name: .long, help: "An extra journalctl match, e.g. _SYSTEMD_UNIT=heidi.service (repeatable).")
        var journaldMatch: [String] = []

        @OptionGroup var global: GlobalOptions

        func run() throws {
            var files = files
            var configuredKey: String?
            if files.isEmpty {
                do {
                    let config = try ConfigLoader.load(path: global.config, environment: global.environment)
                    files = [config.journalPath]
                    configuredKey = config.journalKeyPath
                } catch {
                    throw CommandFailure("config_error", "\(error)", exitCode: 2)
                }
            }
            var options = VerificationOptions(now: Timestamp.now(), sinceCheckpoint: sinceCheckpoint)
            var notes: [String] = []
            var tailUnchecked: String?
            let live = files[0]
            if files.count == 1 && RotatedJournals.firstSeq(of: live) == nil {
                files = RotatedJournals.all(besides: live) + [live]
                options.complete = true
                switch Self.stateAnchor(for: live) {
                case .success(let anchor): options.anchors = [anchor]
                case .failure(let reason): tailUnchecked = reason.description
                }
            } else {
                tailUnchecked = "the files were named one by one, so no state.json head applies"
            }
            options.keys = try loadKeys(configured: configuredKey, notes: &notes)
            if sinceCheckpoint && options.keys.isEmpty {
                throw CommandFailure(
                    "usage",
                    "--since-checkpoint needs a key (--key FILE) to trust the checkpoint it starts from",
                    exitCode: 2
                )
            }
            if journald || journaldDirectory != nil || journaldJson != nil {
                options.journald = try loadJournald(owner: Self.owner(of: live))
            }
            let report: VerificationReport
            do { report = try JournalVerifier.verify(files: files, options: options) } catch {
                throw CommandFailure("unreadable", "cannot read the journal: \(error)", exitCode: 5)
            }
            let output = VerifyOutput(report: report, options: options, notes: notes, tailUnchecked: tailUnchecked)
            writeOut(Array((global.json ? output.json() : output.human()).utf8))
            if [.broken, .tornTail, .damaged].contains(report.verdict) { throw ExitCode(1) }
        }

        private func loadKeys(configured: String?, notes: inout [String]) throws -> [JournalKey] {
            var keys: [JournalKey] = []
            for path in key {
                do { keys.append(try JournalKey.load(path)) } catch {
                    throw CommandFailure("unreadable", "\(error)", exitCode: 5)
                }
            }
            if keys.isEmpty, let configured, FileSystem.exists(configured) {
                do { keys.append(try JournalKey.load(configured)) } catch {
                    notes.append("checkpoints not verified: \(error); pass --key")
                }
            }
            return keys
        }

        private func loadJournald(owner: UInt32?) throws -> JournaldHeads {
            do {
                let output: [UInt8]
                if let journaldJson {
                    output = try FileSystem.read(journaldJson)
                } else {
                    output = try JournaldHeads.query(directory: journaldDirectory, matches: journaldMatch)
                }
                return try JournaldHeads.parse(output, trustedUID: owner)
            } catch {
                throw CommandFailure("unreadable", "cannot read journald's heads: \(error)", exitCode: 5)
            }
        }

        /// Why no state.json head anchors the journal's tail.
        struct NoAnchor: Error, CustomStringConvertible {
            var description: String
        }

        /// The head state.json records beside a live journal, when it describes this journal; else why not.
        static func stateAnchor(for live: String) -> Result<JournalAnchor, NoAnchor> {
            let statePath = FileSystem.dirname(live) + "/state.json"
            guard FileSystem.exists(statePath) else {
                return .failure(NoAnchor(description: "there is no \(statePath) beside it (a copied journal?)"))
            }
            let state: StateFile?
            do { state = try StateFile.read(from: statePath) } catch {
                return .failure(NoAnchor(description: "\(statePath) cannot be read: \(error)"))
            }
            guard let state, state.status.journal.seq > 0 else {
                return .failure(NoAnchor(description: "\(statePath) records no journal head"))
            }
            guard
                FileSystem.resolve(state.status.journal.path, against: "/")
                    == FileSystem.resolve(live, against: FileSystem.currentDirectory())
            else {
                return .failure(
                    NoAnchor(description: "\(statePath) describes another journal (\(state.status.journal.path))")
                )
            }
            return .success(
                JournalAnchor(seq: state.status.journal.seq, hash: state.status.journal.head, source: statePath)
            )
        }

        /// The uid owning the journal: heidid's, whose journald entries count.
        static func owner(of path: String) -> UInt32? {
            var st = stat()
            return stat(path, &st) == 0 ? st.st_uid : nil
        }
    }
}

/// Renders a verification report for humans or as one JSON document.
struct VerifyOutput {
    let report: VerificationReport
    let options: VerificationOptions
    let notes: [String]
    /// Why the journal's last lines were not compared with a head recorded outside it (nil: they were).
    var tailUnchecked: String?

    /// What this verification checked, in words.
    var checked: [String] {
        var items = ["every line's format", "seq continuity", "the hash chain"]
        if options.complete { items.append("that history missing at the start was pruned (journal_pruned)") }
        for anchor in options.anchors {
            items.append("the tail against the head \(anchor.source) records (seq \(anchor.seq))")
        }
        if !options.keys.isEmpty {
            items.append("checkpoints and their cadence with key id \(options.keys.map(\.id).joined(separator: ", "))")
        }
        if report.journaldEntries != nil { items.append("every line against the heads journald recorded") }
        return items
    }

    /// What it did not check, and why: a change that only these would show goes unnoticed.
    var notChecked: [String] {
        var items: [String] = []
        if options.anchors.isEmpty && report.journaldEntries == nil && options.keys.isEmpty {
            let why = tailUnchecked ?? "no head recorded outside the journal was given"
            items.append(
                "the last lines (cut off or edited at the end, they would go unnoticed): \(why); --journald or --key can check them"
            )
        }
        return items
    }

    private var range: String { report.firstSeq.map { "seq \($0)–\(report.lastSeq ?? $0)" } ?? "no lines" }

    func human() -> String {
        let r = report
        var lines: [String] = []
        switch r.outcome {
        case .intact where r.verdict == .intactUnsealedTail:
            let count = r.unsealedLines ?? 0
            let tail =
                count == 1 && r.endsWithStop
                ? "the last line (daemon_stop) follows the shutdown checkpoint; the next start seals it"
                : "\(count) line\(count == 1 ? "" : "s") after the last checkpoint, sealed by the next one"
            lines.append(
                "intact, unsealed tail: \(r.lines) lines, \(range), head \(r.headHash ?? SHA256.zeroHex); \(tail)"
            )
        case .intact where r.verdict == .damaged:
            lines.append(
                "DAMAGED (recorded): the chain verifies as it stands (\(r.lines) lines, \(range), head \(r.headHash ?? SHA256.zeroHex)), "
                    + "but heidid found damage when it started and recorded it:"
            )
            for damage in r.damage {
                lines.append("  journal_damaged at seq \(damage.seq) (\(damage.ts)): \(damage.message)")
            }
        case .intact:
            lines.append("intact: \(r.lines) lines, \(range), head \(r.headHash ?? SHA256.zeroHex)")
        case .tornTail(let bytes):
            lines.append(
                "torn tail: \(bytes) bytes after the last complete line (\(range)); recoverable: heidid cuts them off on its next start"
            )
        case .broken(let file, let line, let reason):
            lines.append("BROKEN: \(file) line \(line): \(reason)")
            lines.append("  verified before it: \(r.lines) lines, \(range)")
        }
        lines.append("  files: \(r.files.joined(separator: ", "))")
        if let last = r.lastCheckpoint {
            let sealed =
                options.keys.isEmpty
                ? "not verified (no key)" : "verified with key id \(options.keys.map(\.id).joined(separator: ", "))"
            lines.append(
                "  checkpoints: \(r.checkpoints), last at seq \(last.seq) (\(last.ts)), every \(last.intervalSeconds)s; \(sealed)"
            )
        } else if !options.keys.isEmpty {
            lines.append("  checkpoints: none")
        }
        if let entries = r.journaldEntries {
            lines.append(
                "  journald: \(entries) heads compared; \(r.linesNotInJournald) lines have none (not sent yet, or rate-limited)"
            )
        }
        lines.append("  checked: \(checked.joined(separator: "; "))")
        for item in notChecked { lines.append("  NOT checked: \(item)") }
        for note in notes + r.notes { lines.append("  note: \(note)") }
        return lines.joined(separator: "\n") + "\n"
    }

    func json() -> String {
        let r = report
        var fields: [String] = []
        func add(_ key: String, _ value: String) { fields.append("\(JSONText.quoted(key)):\(value)") }
        func list(_ items: [String]) -> String { "[" + items.map(JSONText.quoted).joined(separator: ",") + "]" }
        let result: String
        switch r.outcome {
        case .intact: result = "intact"
        case .tornTail: result = "torn_tail"
        case .broken: result = "broken"
        }
        add("result", JSONText.quoted(result))
        add("verdict", JSONText.quoted(r.verdict.rawValue))
        add("lines", String(r.lines))
        add("bytes", String(r.bytes))
        add("first_seq", r.firstSeq.map(String.init) ?? "null")
        add("last_seq", r.lastSeq.map(String.init) ?? "null")
        add("head", r.headHash.map(JSONText.quoted) ?? "null")
        add("files", list(r.files))
        add("anchors", list(options.anchors.map(\.source)))
        add("unsealed_lines", r.unsealedLines.map(String.init) ?? "null")
        add("checkpoints", String(r.checkpoints))
        add(
            "last_checkpoint",
            r.lastCheckpoint.map {
                "{\"seq\":\($0.seq),\"ts\":\(JSONText.quoted($0.ts)),\"key_id\":\(JSONText.quoted($0.keyID)),\"interval_s\":\($0.intervalSeconds)}"
            } ?? "null"
        )
        add("key_ids", list(r.keyIDs))
        add("keys", list(options.keys.map(\.id)))
        add(
            "journald",
            r.journaldEntries.map { "{\"entries\":\($0),\"lines_not_in_journald\":\(r.linesNotInJournald)}" } ?? "null"
        )
        switch r.outcome {
        case .intact: break
        case .tornTail(let bytes): add("torn_bytes", String(bytes))
        case .broken(let file, let line, let reason):
            add("file", JSONText.quoted(file))
            add("line", String(line))
            add("reason", JSONText.quoted(reason))
        }
        add(
            "damage",
            "["
                + r.damage.map {
                    "{\"seq\":\($0.seq),\"ts\":\(JSONText.quoted($0.ts)),\"message\":\(JSONText.quoted($0.message))}"
                }.joined(separator: ",") + "]"
        )
        add("checked", list(checked))
        add("not_checked", list(notChecked))
        add("notes", list(notes + r.notes))
        return "{" + fields.joined(separator: ",") + "}\n"
    }
}
