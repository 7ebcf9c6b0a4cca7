import HeidiTestSupport
import Testing

@testable import HeidiCore
@testable import HeidiJournal

#if canImport(Glibc)
import Glibc
#endif

/// A test failure with a readable reason.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
}

/// A tmpfs of a few KiB mounted on a fresh directory for one test: a real disk that fills up. Needs root
/// (CAP_SYS_ADMIN); without it the test fails and says so, it never skips.
final class TinyFilesystem {
    let path: String

    init(bytes: Int) throws {
        path = makeTemporaryDirectory("heidi-tmpfs")
        guard mount("tmpfs", path, "tmpfs", 0, "size=\(bytes),mode=0755") == 0 else {
            let reason = String(cString: strerror(errno))
            rmdir(path)
            throw TestFailure(
                description: "cannot mount a tmpfs on \(path) (\(reason)): this test needs root (CAP_SYS_ADMIN) "
                    + "to fill a real file system"
            )
        }
    }

    /// Writes a file until the file system is full (ENOSPC); returns its path.
    func fill() throws -> String {
        let filler = path + "/filler"
        let fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw TestFailure(description: "cannot create \(filler): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        for size in [4096, 1] {
            let block = [UInt8](repeating: 0x2e, count: size)
            while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == size {}
        }
        guard errno == ENOSPC else {
            throw TestFailure(description: "filling \(filler) stopped with \(String(cString: strerror(errno)))")
        }
        return filler
    }

    func unmount() {
        umount2(path, Int32(MNT_DETACH))
        rmdir(path)
    }
}

@Suite("Journal durability", .serialized)
struct JournalDurabilityTests {
    let bigMessage = String(repeating: "x", count: 700)

    @Test("disk full: no half line, the chain state is unchanged, and writes work again when space returns")
    func diskFullNeverLeavesHalfALineAndRecovers() throws {
        let fs = try TinyFilesystem(bytes: 64 * 1024)
        defer { fs.unmount() }
        let path = fs.path + "/events.jsonl"
        let writer = try JournalWriter(path: path, fsync: .always, rotateSize: 0)
        for index in 0..<3 { try writer.append(EventDraft(.stageEnd, message: "before \(index)"), at: fixedTime) }
        let filler = try fs.fill()
        var failure: JournalError?
        for _ in 0..<100 {  // the journal's last page still has room for a few lines
            do { try writer.append(EventDraft(.stageEnd, message: bigMessage), at: fixedTime) } catch {
                failure = error
                break
            }
        }
        let error = try #require(failure, "the file system never filled up")
        #expect("\(error)".contains("No space left on device"), "\(error)")
        let seq = writer.lastSeq
        let head = writer.headHash
        let report = try JournalVerifier.verify(files: [path])
        #expect(
            report.outcome == .intact && report.lastSeq == seq && report.headHash == head,
            "no half line: \(report.outcome)"
        )
        #expect(throws: JournalError.self) {
            try writer.append(EventDraft(.stageEnd, message: bigMessage), at: fixedTime)
        }
        #expect(writer.lastSeq == seq && writer.headHash == head)

        #expect(unlink(filler) == 0)
        let written = try writer.append(EventDraft(.journalRecovered, message: "space is back"), at: fixedTime)
        #expect(written.seq == seq + 1 && written.prevHash == head)
        writer.close()
        let after = try JournalVerifier.verify(files: [path])
        #expect(after.outcome == .intact && after.lastSeq == seq + 1)
    }

    @Test("a crash at any byte of the last line is a torn tail, cut off on the next open")
    func aCrashAtEveryByteOfTheLastLineIsRepaired() throws {
        let path = makeTemporaryDirectory() + "/events.jsonl"
        let writer = try JournalWriter(path: path, fsync: .never, rotateSize: 0)
        for index in 0..<3 {
            try writer.append(EventDraft(.stageEnd, message: "event \(index) \"quoted\""), at: fixedTime)
        }
        writer.close()
        let all = try FileSystem.read(path)
        let lines = try lines(of: path)
        let intact = lines[0].count + lines[1].count
        for cut in 1..<lines[2].count {
            try writeBytes(path, Array(all.prefix(intact + cut)))
            #expect(try JournalVerifier.verify(files: [path]).outcome == .tornTail(bytes: cut))
            let reopened = try JournalWriter(path: path, fsync: .never, rotateSize: 0)
            #expect(reopened.repair?.droppedBytes == cut && reopened.lastSeq == 2, "cut at \(cut)")
            reopened.close()
            #expect(try FileSystem.read(path) == Array(all.prefix(intact)), "only the torn bytes go")
        }
    }

    @Test func bytesAfterTheLastLineThatNoCrashLeavesAreNotCutOff() throws {
        let path = makeTemporaryDirectory() + "/events.jsonl"
        try JournalWriter(path: path, fsync: .never).append(EventDraft(.daemonStart, message: "start"), at: fixedTime)
        appendBytes(path, Array("rm -rf /".utf8))
        let before = try FileSystem.read(path)
        #expect { try JournalWriter(path: path) } throws: { "\($0)".contains("not the start of the next event") }
        #expect(try FileSystem.read(path) == before, "nothing was changed")
    }

    @Test func onlyBatchWaitsForAnExplicitSync() throws {
        for policy in FsyncPolicy.allCases {
            let path = makeTemporaryDirectory() + "/events.jsonl"
            let writer = try JournalWriter(path: path, fsync: policy)
            try writer.append(EventDraft(.daemonStart, message: "start"), at: fixedTime)
            #expect(writer.needsSync == (policy == .batch), "\(policy)")
            try writer.sync()
            #expect(!writer.needsSync)
        }
    }
}
