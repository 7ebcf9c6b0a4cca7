import HeidiCore

/// Strict offline verification of journal files: every line's schema, key order and types, seq continuity, the
/// hash chain, checkpoints (signed heads), retention records, and heads recorded outside the files (state.json,
/// journald). It hashes the exact line bytes, never re-serialises, and reads files in constant memory.
public enum JournalVerifier {
    /// The chain and the given state.json anchors only.
    public static func verify(
        files: [String],
        anchors: [JournalAnchor] = []
    ) throws(FileSystemError) -> VerificationReport {
        try verify(files: files, options: VerificationOptions(anchors: anchors))
    }

    /// Verifies `files` (oldest first) as one chain.
    public static func verify(
        files: [String],
        options: VerificationOptions
    ) throws(FileSystemError) -> VerificationReport {
        var run = VerificationRun(files: files, options: options)
        try run.execute()
        return run.report
    }
}

/// One verification: the state carried from line to line.
struct VerificationRun {
    let files: [String]
    let options: VerificationOptions
    var report: VerificationReport
    private let hasher = LineHasher()
    private var expectedSeq: UInt64?
    private var previous: Digest?
    private var firstTime: Int64?
    /// The chain starts after seq 1 here (seq, prev_hash, file) until a `journal_pruned` record explains it.
    private var startGap: (seq: UInt64, prev: Digest, file: String)?
    private var seal: SealTracker
    private let stateAnchors: [UInt64: (hash: Digest?, source: String)]
    private var journaldIndex = 0
    private var journaldUsed = 0
    private var file = ""
    private var fileIndex = 0
    private var lineNumber = 0
    /// The last line accepted, and the one before it: where the trusted lines end when the next one is wrong.
    private var lastAccepted: AcceptedLine?
    private var acceptedBefore: AcceptedLine?

    /// Where an accepted line is, and its chain fields.
    private struct AcceptedLine {
        var fileIndex: Int
        var lineNumber: Int
        var start: Int64
        var end: Int64
        var seq: UInt64
        var digest: Digest
        var prev: Digest
    }

    init(files: [String], options: VerificationOptions) {
        self.files = files
        self.options = options
        report = VerificationReport(outcome: .intact, files: files, lines: 0, notes: [])
        seal = SealTracker(keyed: !options.keys.isEmpty)
        var anchors: [UInt64: (hash: Digest?, source: String)] = [:]
        for anchor in options.anchors { anchors[anchor.seq] = (Digest(hex: anchor.hash), anchor.source) }
        stateAnchors = anchors
    }

    mutating func execute() throws(FileSystemError) {
        var startFile = 0
        var startOffset: Int64 = 0
        if options.sinceCheckpoint, !options.keys.isEmpty {
            if let start = try CheckpointLocator.newest(in: files, keys: options.keys) {
                (startFile, startOffset, expectedSeq, previous) = (start.fileIndex, start.offset, start.seq, start.head)
                report.notes.append(
                    "started at the checkpoint with seq \(start.seq) in \(files[start.fileIndex]); the lines before "
                        + "it are sealed by it and were not read"
                )
            } else {
                report.notes.append("no checkpoint verifies with the key: verified from the first line")
            }
        }
        var tornBytes: Int?
        for index in files.indices where index >= startFile {
            file = files[index]
            fileIndex = index
            let offset = index == startFile ? startOffset : 0
            lineNumber = offset > 0 ? try Self.countLines(in: file, before: offset) : 0
            let tail = try JournalLineReader.forEachLine(
                in: file,
                from: offset,
                maxLine: JournalLineEncoder.maxLineBytes
            ) { line, start in
                lineNumber += 1
                return accept(line, at: start)
            }
            switch tail {
            case nil: return
            case .clean?: continue
            case .overlong?:
                fail(
                    line: lineNumber + 1,
                    "line longer than 64 KiB (no newline within \(JournalLineEncoder.maxLineBytes) bytes)"
                )
                return
            case .partial(let bytes)?:
                if index < files.count - 1 {
                    fail(line: lineNumber + 1, "a rotated file ends in a partial line")
                    return
                }
                guard TornTail.isPlausible(bytes, nextSeq: expectedSeq ?? 1, afterLines: report.lines > 0) else {
                    let what =
                        bytes.allSatisfy { $0 == 0 }
                        ? "\(bytes.count) NUL bytes (not a heidi journal)"
                        : "\(bytes.count) bytes without a newline that are not the start of the next event (a crash leaves only that)"
                    fail(line: lineNumber + 1, "the file ends in \(what)")
                    return
                }
                tornBytes = bytes.count
            }
        }
        finish(tornBytes: tornBytes)
    }

    private static func countLines(in path: String, before offset: Int64) throws(FileSystemError) -> Int {
        var count = 0
        _ = try JournalLineReader.forEachLine(in: path, maxLine: JournalLineEncoder.maxLineBytes) { _, start in
            guard start < offset else { return false }
            count += 1
            return true
        }
        return count
    }

    /// Records the verdict `broken`: the lines up to the last one accepted are trusted, everything after is not.
    @discardableResult
    private mutating func fail(line: Int? = nil, _ reason: String) -> Bool {
        report.outcome = .broken(file: file, line: line ?? lineNumber, reason: reason)
        report.trustedEnd =
            lastAccepted.map {
                TrustedEnd(file: files[$0.fileIndex], offset: $0.end, seq: $0.seq, hash: $0.digest.description)
            }
            ?? TrustedEnd(file: files[0], offset: 0, seq: 0, hash: SHA256.zeroHex)
        return false
    }

    /// A line's `prev_hash` does not match the line before it: either that line was changed or this prev_hash was,
    /// so both are suspect, and the trusted lines end before the previous one.
    private mutating func failChain(prevHash: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let suspect = lastAccepted else {
            return fail("prev_hash does not match the SHA-256 of the previous line (chain broken)")
        }
        let here = suspect.fileIndex == fileIndex ? "line \(lineNumber)" : "line \(lineNumber) of \(file)"
        let previous =
            suspect.fileIndex == fileIndex
            ? "line \(suspect.lineNumber)" : "the last line of \(files[suspect.fileIndex])"
        let reason =
            "\(previous) (seq \(suspect.seq)) was changed, or \(here)'s prev_hash was: \(here) says the line before it hashes to "
            + "\(String(decoding: prevHash, as: UTF8.self)), but \(previous) hashes to \(suspect.digest) (chain broken)"
        report.outcome = .broken(file: files[suspect.fileIndex], line: suspect.lineNumber, reason: reason)
        // The changed line may be the previous one: it is not trusted, nor counted as verified.
        report.lines -= 1
        report.bytes -= suspect.end - suspect.start
        report.lastSeq = acceptedBefore?.seq
        if report.lines == 0 { report.firstSeq = nil }
        report.trustedEnd =
            acceptedBefore.map {
                TrustedEnd(file: files[$0.fileIndex], offset: $0.end, seq: $0.seq, hash: $0.digest.description)
            }
            ?? TrustedEnd(
                file: files[suspect.fileIndex],
                offset: suspect.start,
                seq: suspect.seq - 1,
                hash: suspect.prev.description
            )
        return false
    }

    /// Checks one line (with its newline) that starts at byte `start` of the file; false stops the verification
    /// (the report says why).
    private mutating func accept(_ line: UnsafeBufferPointer<UInt8>, at start: Int64) -> Bool {
        let body = UnsafeBufferPointer(rebasing: line.dropLast())
        let scanned: ScannedLine
        do { scanned = try JournalLineScanner.scan(body) } catch { return fail(error.reason) }
        let seq = scanned.seq
        let prevHex = UnsafeBufferPointer(rebasing: body[scanned.prevHash..<(scanned.prevHash + 64)])
        // Parsed only where the chain has no previous line to compare with (the scanner checked the digits).
        let prev = previous ?? Digest(hexBytes: prevHex) ?? .zero
        if let expectedSeq {
            guard seq == expectedSeq else {
                if seq < expectedSeq { return fail("seq \(seq) repeats or goes back (expected \(expectedSeq))") }
                return fail(
                    lineNumber == 1
                        ? "this file starts at seq \(seq), but the previous one ends at seq \(expectedSeq - 1): the journal file with seq "
                            + "\(expectedSeq)–\(seq - 1) is missing"
                        : "seq jumps from \(expectedSeq - 1) to \(seq): lines are missing"
                )
            }
        } else if seq == 1 {
            guard prev == .zero else { return fail("the first line's prev_hash is not 64 zeros") }
        } else {
            startGap = (seq, prev, file)
        }
        if let previous, !previous.matches(hex: prevHex) { return failChain(prevHash: prevHex) }
        let digest = hasher.digest(UnsafeRawBufferPointer(line))
        if firstTime == nil {
            firstTime = scanned.time
            report.firstSeq = seq
        }
        guard checkJournald(seq: seq, digest: digest) else { return false }
        if !stateAnchors.isEmpty, let anchor = stateAnchors[seq], anchor.hash != digest {
            return fail("the line with seq \(seq) does not match the head recorded in \(anchor.source): it was edited")
        }
        let kind = EventKind(body, scanned.eventType)
        switch kind {
        case .checkpoint:
            guard checkpoint(Array(line), scanned, prev: prev) else { return false }
        case .journalPruned:
            guard pruned(body, scanned) else { return false }
            if let reason = seal.line(kind, time: scanned.time) { return fail(reason) }
        case .journalDamaged:
            let raw = Array(
                UnsafeBufferPointer(rebasing: body[(scanned.message.lowerBound - 1)..<(scanned.message.upperBound + 1)])
            )
            let message = (try? StrictJSONParser.parse(raw))?.stringValue ?? String(decoding: raw, as: UTF8.self)
            report.damage.append(
                RecordedDamage(seq: seq, ts: Timestamp(microseconds: scanned.time).description, message: message)
            )
            if let reason = seal.line(kind, time: scanned.time) { return fail(reason) }
        default:
            if let reason = seal.line(kind, time: scanned.time) { return fail(reason) }
        }
        expectedSeq = seq + 1
        previous = digest
        acceptedBefore = lastAccepted
        lastAccepted = AcceptedLine(
            fileIndex: fileIndex,
            lineNumber: lineNumber,
            start: start,
            end: start + Int64(line.count),
            seq: seq,
            digest: digest,
            prev: prev
        )
        report.lines += 1
        report.bytes += Int64(line.count)
        report.lastSeq = seq
        return true
    }

    private mutating func checkpoint(_ line: [UInt8], _ scanned: ScannedLine, prev: Digest) -> Bool {
        let text = String(decoding: line[scanned.message], as: UTF8.self)
        guard let checkpoint = Checkpoint(message: Substring(text)) else {
            return fail("a checkpoint whose message is not 'checkpoint v1 key_id=… seq=… head=… interval=… mac=…'")
        }
        guard checkpoint.seq + 1 == scanned.seq, Digest(hex: checkpoint.head) == prev else {
            return fail(
                "the checkpoint claims seq \(checkpoint.seq) with head \(checkpoint.head), but the line before it is "
                    + "seq \(scanned.seq - 1) with hash \(prev)"
            )
        }
        if !report.keyIDs.contains(checkpoint.keyID) { report.keyIDs.append(checkpoint.keyID) }
        if !options.keys.isEmpty {
            guard let key = options.keys.first(where: { $0.id == checkpoint.keyID }) else {
                return fail(
                    "the checkpoint is signed with key id \(checkpoint.keyID), but the key given has id "
                        + "\(options.keys.map(\.id).joined(separator: ", ")) (key id mismatch)"
                )
            }
            guard Checkpoint.verify(line: line, messageEnd: scanned.message.upperBound, mac: checkpoint.mac, key: key)
            else {
                return fail(
                    "the checkpoint's MAC does not verify with key \(key.id): the checkpoint or a line before it was "
                        + "changed and re-chained"
                )
            }
        }
        seal.checkpoint(
            checkpoint,
            seq: scanned.seq,
            time: scanned.time,
            ts: Timestamp(microseconds: scanned.time).description
        )
        report.checkpoints = seal.checkpoints
        report.lastCheckpoint = seal.last
        return true
    }

    private mutating func pruned(_ body: UnsafeBufferPointer<UInt8>, _ scanned: ScannedLine) -> Bool {
        let text = String(decoding: UnsafeBufferPointer(rebasing: body[scanned.message]), as: UTF8.self)
        guard let record = PruneRecord(message: Substring(text)) else {
            return fail(
                "a journal_pruned record whose message is not 'pruned v1 file=… first_seq=… last_seq=… last_hash=… bytes=… sha256=…'"
            )
        }
        if let gap = startGap, record.lastSeq + 1 == gap.seq, Digest(hex: record.lastHash) == gap.prev {
            report.notes.append(
                "seq \(record.firstSeq)–\(record.lastSeq) (\(record.file)) were removed by retention, as the "
                    + "journal_pruned record at seq \(scanned.seq) says; the chain links to it"
            )
            startGap = nil
        }
        return true
    }

    private mutating func checkJournald(seq: UInt64, digest: Digest) -> Bool {
        guard let heads = options.journald else { return true }
        let earliest = (firstTime ?? 0) - 1_000_000
        var found = false
        while journaldIndex < heads.entries.count, heads.entries[journaldIndex].seq <= seq {
            let entry = heads.entries[journaldIndex]
            journaldIndex += 1
            guard entry.seq == seq, entry.time >= earliest else { continue }
            found = true
            journaldUsed += 1
            if entry.hash != digest {
                return fail(
                    "journald recorded HEIDI_HASH \(entry.hash) for seq \(seq), but this line hashes to \(digest): "
                        + "it was edited or replaced"
                )
            }
        }
        if !found { report.linesNotInJournald += 1 }
        return true
    }

    private mutating func finish(tornBytes: Int?) {
        let lastSeq = report.lastSeq ?? 0
        report.headHash = previous?.description
        report.unsealedLines = seal.keyed ? seal.unsealed : nil
        report.endsWithStop = seal.lastKind == .daemonStop
        if let gap = startGap {
            if options.complete {
                file = gap.file
                fail(
                    line: 1,
                    "the journal starts at seq \(gap.seq), but no journal_pruned record says that seq 1–\(gap.seq - 1) "
                        + "were pruned: a journal file was deleted"
                )
                return
            }
            report.notes.append("the chain starts at seq \(gap.seq); earlier files were not given")
        }
        for anchor in options.anchors where anchor.seq > lastSeq {
            fail(
                line: lineNumber + 1,
                "\(anchor.source) records seq \(anchor.seq) but the journal ends at seq \(lastSeq): lines were cut off"
            )
            return
        }
        if let heads = options.journald {
            let earliest = (firstTime ?? 0) - 1_000_000
            if let beyond = heads.entries[journaldIndex...].first(where: { $0.seq > lastSeq && $0.time >= earliest }) {
                fail(
                    line: lineNumber + 1,
                    "journald has seq \(beyond.seq) (HEIDI_HASH \(beyond.hash)), but the journal ends at seq "
                        + "\(lastSeq): lines were cut off"
                )
                return
            }
            report.journaldEntries = journaldUsed
            if journaldUsed == 0 && report.lines > 0 {
                fail(
                    line: 1,
                    "journald holds no HEIDI_SEQ entry for any line of this journal: nothing to cross-check (fail closed)"
                )
                return
            }
        }
        let keys = options.keys.map { "key id \($0.id)" }.joined(separator: ", ")
        if let reason = seal.finish(now: options.now, torn: tornBytes != nil, key: keys) {
            fail(line: lineNumber, reason)
            return
        }
        if !seal.keyed && seal.checkpoints > 0 {
            report.notes.append("\(seal.checkpoints) checkpoints were not checked: no key was given")
        }
        if report.lines == 0 && tornBytes == nil { report.notes.append("the journal is empty") }
        if let tornBytes { report.outcome = .tornTail(bytes: tornBytes) }
    }
}
