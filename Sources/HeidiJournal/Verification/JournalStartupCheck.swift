import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// Bytes of a journal file that heidid moved aside because the chain could not be trusted there.
public struct MovedAside: Sendable, Equatable {
    /// The journal file they came from, and where in it they started (0: the whole file was moved).
    public var file: String
    public var offset: Int64
    public var bytes: Int64
    public var sha256: String
    /// Where they are now.
    public var keptAt: String
}

/// Damage heidid found in its journal when it started, and what it did about it.
public struct JournalDamage: Sendable, Equatable {
    /// What verification reported: the file, the first line that cannot be trusted, and why.
    public var file: String
    public var line: Int
    public var reason: String
    /// The untrusted bytes, now in `directory` (empty when lines are missing rather than wrong: nothing follows).
    public var movedAside: [MovedAside]
    public var directory: String?
    /// The last trusted line, which the chain goes on from.
    public var lastTrustedSeq: UInt64
    public var lastTrustedHash: String

    /// The message of the `journal_damaged` event (and of the log line).
    public var message: String {
        var text = "journal damage found at start: \(file) line \(line): \(reason); "
        if let directory, !movedAside.isEmpty {
            let moved = movedAside.map { part in
                let name = part.file.split(separator: "/").last.map(String.init) ?? part.file
                let what = part.offset == 0 ? name : "\(name) from byte \(part.offset)"
                return "\(what) (\(part.bytes) bytes, sha256 \(part.sha256))"
            }
            text += "kept aside in \(directory): \(moved.joined(separator: ", ")); "
        } else {
            text +=
                "nothing follows the last trusted line (lines are missing, not changed), so nothing was moved aside; "
        }
        text += "the chain goes on from seq \(lastTrustedSeq) (hash \(lastTrustedHash))"
        return text
    }
}

/// The check heidid makes before it appends to its journal: a tamper-evident journal must never heal over damage.
///
/// Every file of the journal (rotated ones too, as a whole journal) is verified, with the head state.json recorded.
/// When it is broken (a line changed, lines cut off or missing, garbage at the end), the untrusted bytes (from the
/// first line that cannot be trusted to the end, and every later file) are moved into `<state_dir>/damaged-<time>/`,
/// so the chain can go on from the last trusted line, and the caller records a `journal_damaged` event that says
/// what was found and where the bytes are. `heidictl journal verify` reports that event (verdict `damaged`) for as
/// long as the journal holds it. A torn last line is not damage: `JournalWriter` cuts it off (`journal_repaired`).
public struct JournalStartupCheck: Sendable {
    /// Damage found now; nil when the journal verified (or was empty).
    public var found: JournalDamage?
    /// Damage recorded by earlier starts (`journal_damaged` events), oldest first.
    public var recorded: [RecordedDamage]
    /// Findings an earlier start moved bytes aside for but could not record (it stopped first): the messages in
    /// `damaged-*/finding.txt` that no `journal_damaged` event names. The caller records them too.
    public var unrecorded: [String] = []

    /// The file in a `damaged-*` directory that holds the finding, written before the event is recorded.
    public static let findingFile = "finding.txt"

    /// Checks the journal at `path` (the live file; its rotated files are found beside it) against `anchor`, and moves
    /// the untrusted bytes aside when it is broken. Throws when a file cannot be read or moved (then nothing is
    /// appended: heidid does not start).
    public static func run(
        journal path: String,
        anchor: JournalAnchor?,
        at time: Timestamp
    ) throws(JournalError) -> JournalStartupCheck {
        let files = RotatedJournals.all(besides: path) + (FileSystem.exists(path) ? [path] : [])
        guard !files.isEmpty else {
            return JournalStartupCheck(found: nil, recorded: [], unrecorded: unrecorded(besides: path, recorded: []))
        }
        let report: VerificationReport
        do {
            report = try JournalVerifier.verify(
                files: files,
                options: VerificationOptions(anchors: anchor.map { [$0] } ?? [], complete: true)
            )
        } catch {
            throw .io(error)
        }
        let pending = unrecorded(besides: path, recorded: report.damage)
        guard case .broken(let file, let line, let reason) = report.outcome, let trusted = report.trustedEnd else {
            return JournalStartupCheck(found: nil, recorded: report.damage, unrecorded: pending)
        }
        var damage = JournalDamage(
            file: file,
            line: line,
            reason: reason,
            movedAside: [],
            directory: nil,
            lastTrustedSeq: trusted.seq,
            lastTrustedHash: trusted.hash
        )
        let first = files.firstIndex(of: trusted.file) ?? files.count
        let directory = FileSystem.dirname(path) + "/damaged-" + time.description.filter { $0 != "-" && $0 != ":" }
        for (index, file) in files.enumerated() where index >= first {
            let bytes: [UInt8]
            do { bytes = try FileSystem.read(file) } catch { throw .io(error) }
            let offset = index == first ? Int(trusted.offset) : 0
            guard offset < bytes.count else { continue }
            if damage.directory == nil {
                do { try FileSystem.createDirectories(directory) } catch { throw .io(error) }
                damage.directory = directory
            }
            let name = file.split(separator: "/").last.map(String.init) ?? file
            let keptAt = directory + "/" + name + (offset > 0 ? ".from-byte-\(offset)" : "")
            if offset > 0 {
                // The trusted lines stay; the rest is copied aside (durably) before the file is cut back.
                do { try FileSystem.writeAtomically(keptAt, Array(bytes[offset...])) } catch { throw .io(error) }
                try cutBack(file, to: offset)
            } else {
                guard rename(file, keptAt) == 0 else {
                    throw .io(FileSystemError(path: keptAt, operation: "rename", errno: errno))
                }
            }
            damage.movedAside.append(
                MovedAside(
                    file: file,
                    offset: Int64(offset),
                    bytes: Int64(bytes.count - offset),
                    sha256: SHA256.hex(bytes[offset...]),
                    keptAt: keptAt
                )
            )
        }
        if let directory = damage.directory {
            // Kept with the bytes, so a start that stops before recording the event leaves it for the next one.
            do {
                try FileSystem.writeAtomically(directory + "/" + findingFile, Array((damage.message + "\n").utf8))
            } catch { throw .io(error) }
            FileSystem.syncDirectory(of: path)
        }
        return JournalStartupCheck(found: damage, recorded: report.damage, unrecorded: pending)
    }

    /// The findings of `damaged-*` directories beside the journal that no recorded `journal_damaged` names.
    private static func unrecorded(besides path: String, recorded: [RecordedDamage]) -> [String] {
        let directory = FileSystem.dirname(path)
        let names = ((try? FileSystem.entries(of: directory)) ?? []).filter { $0.hasPrefix("damaged-") }.sorted()
        return names.compactMap { name in
            guard !recorded.contains(where: { $0.message.contains("/" + name + ":") }),
                let bytes = try? FileSystem.read(directory + "/" + name + "/" + findingFile)
            else { return nil }
            return String(decoding: bytes, as: UTF8.self).trimmingSuffix("\n")
        }
    }

    private static func cutBack(_ file: String, to offset: Int) throws(JournalError) {
        let fd = open(file, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(FileSystemError(path: file, operation: "open", errno: errno)) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(offset)) == 0, fsync(fd) == 0 else {
            throw .io(
                FileSystemError(path: file, operation: "truncate after keeping the damaged bytes aside", errno: errno)
            )
        }
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
