import HeidiCore

/// Optional retention of rotated journal files (`journal.keep_rotated`): which files go, and the `journal_pruned`
/// record (`PruneRecord`) that is written before each removal, so a verifier can tell pruning from deletion.
public enum JournalRetention {
    /// Rotated files beyond the `keep` newest, oldest first, each with its prune record (none when `keep` is 0).
    public static func plan(
        journal path: String,
        keep: Int
    ) throws(JournalError) -> [(path: String, record: PruneRecord)] {
        guard keep > 0 else { return [] }
        let rotated = RotatedJournals.all(besides: path)
        guard rotated.count > keep else { return [] }
        var result: [(path: String, record: PruneRecord)] = []
        for file in rotated.dropLast(keep) { result.append((file, try describe(file))) }
        return result
    }

    /// What a rotated file holds: its seq range, the hash of its last line, its size and SHA-256.
    static func describe(_ file: String) throws(JournalError) -> PruneRecord {
        let bytes: [UInt8]
        do { bytes = try FileSystem.read(file) } catch { throw .io(error) }
        let last = try JournalTail.lastCompleteLine(in: bytes, path: file)
        guard let firstSeq = JournalLineEncoder.seq(of: bytes.prefix(64)),
            let lastSeq = JournalLineEncoder.seq(of: last),
            lastSeq >= firstSeq
        else { throw .unreadableTail(path: file, reason: "not a journal file: cannot tell which seqs it holds") }
        let name = String(file.split(separator: "/").last ?? Substring(file))
        return PruneRecord(
            file: name,
            firstSeq: firstSeq,
            lastSeq: lastSeq,
            lastHash: SHA256.hex(last),
            bytes: UInt64(bytes.count),
            sha256: SHA256.hex(bytes)
        )
    }
}
