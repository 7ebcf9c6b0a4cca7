import HeidiCore
import HeidiSupervisor
import Testing

@testable import HeidiEngine

#if canImport(Glibc)
import Glibc
#endif

@Suite("Live followers")
struct FollowerTests {
    @Test func aFollowerThatFallsBehindSkipsLinesWithAMarkerAndNeverSlowsTheStage() async throws {
        let broadcaster = LogBroadcaster(capacity: 1000)
        broadcaster.setRunActive(true, runEnding: "")
        guard case .live(let queue) = broadcaster.subscribe(path: "/l", caughtUp: { true }) else {
            Issue.record("a caught-up follower of a running stage gets live output")
            return
        }
        var published = 0
        for batch in 0..<100 {
            let bytes = Array((0..<5).map { "b\(batch)-\($0) padding padding\n" }.joined().utf8)
            broadcaster.publish(bytes, lines: 5, path: "/l") {}  // returns at once: nobody reads yet
            published += 5
        }
        broadcaster.end(path: "/l", .succeeded("exit 0"))
        var received: [String] = []
        var skipped = 0
        while let chunk = await queue.next() {
            for line in String(decoding: chunk, as: UTF8.self).split(separator: "\n") {
                if line.hasPrefix("…[heidid: ") {
                    skipped += Int(line.dropFirst("…[heidid: ".count).split(separator: " ")[0]) ?? 0
                } else {
                    received.append(String(line))
                }
            }
        }
        #expect(received.count + skipped == published, "every line is either delivered or counted as skipped")
        let liveBytes = received.reduce(0) { $0 + $1.utf8.count + 1 }
        #expect(skipped > 0 && liveBytes <= 1000, "bounded by the 1000-byte queue: \(liveBytes) bytes")
        #expect(broadcaster.skippedLines.load(ordering: .relaxed) == skipped)
        #expect(queue.ending == .succeeded("exit 0"), "the follower learns how the stage ended")
    }

    @Test func aFollowerThatGoesAwayIsForgotten() async throws {
        let broadcaster = LogBroadcaster(capacity: 1000)
        broadcaster.setRunActive(true, runEnding: "")
        do { _ = broadcaster.subscribe(path: "/e", caughtUp: { true }) }
        broadcaster.publish(Array("x\n".utf8), lines: 1, path: "/e") {}
        #expect(broadcaster.skippedLines.load(ordering: .relaxed) == 0)
    }

    @Test func followersEndWithTheirStageOrTheRun() async throws {
        let broadcaster = LogBroadcaster()
        // No run: nothing more will come.
        guard case .ended(.notRun) = broadcaster.subscribe(path: "/a", caughtUp: { true }) else {
            Issue.record("without a run a follower ends at once")
            return
        }
        broadcaster.setRunActive(true, runEnding: "")
        guard case .behind = broadcaster.subscribe(path: "/a", caughtUp: { false }) else {
            Issue.record("a follower that has not read everything reads on")
            return
        }
        guard case .live(let pending) = broadcaster.subscribe(path: "/later", caughtUp: { true }) else { return }
        broadcaster.end(path: "/a", .failed("exit 3"))
        guard case .ended(.failed("exit 3")) = broadcaster.subscribe(path: "/a", caughtUp: { true }) else {
            Issue.record("a stage that ended is remembered for followers that come later")
            return
        }
        broadcaster.setRunActive(false, runEnding: "run_x is ERROR")
        #expect(await pending.next() == nil)
        #expect(pending.ending == .notRun("run_x is ERROR"), "a follower of a stage that never ran ends with the run")
    }
}

@Suite("Stage log serving")
struct StageLogServingTests {
    func scratch() throws -> String {
        let path = "/tmp/heidi-logfeed-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileSystem.createDirectories(path)
        return path
    }

    func lines(_ range: Range<Int>) -> [UInt8] {
        Array(range.map { "line \($0) of the stage's output\n" }.joined().utf8)
    }

    @Test func theCursorReadsAcrossRotationInBoundedChunksAndFindsLines() throws {
        let dir = try scratch()
        defer { FileSystem.removeTree(dir) }
        let log = try StageLogFile(path: dir + "/train.log", maxSize: 20_000)
        for i in 0..<1000 { log.append(lines(i..<(i + 1))) }
        log.close()
        #expect(FileSystem.exists(dir + "/train.log.1"), "the log was rotated")
        let onDisk = try FileSystem.read(dir + "/train.log.1") + FileSystem.read(dir + "/train.log")
        let cursor = StageLogCursor(path: dir + "/train.log")
        var read: [UInt8] = []
        while let chunk = cursor.read() {
            #expect(chunk.count <= StageLogCursor.chunkSize)
            read += chunk
        }
        #expect(read == onDisk, "the rotated part, then the live file, byte for byte")
        let total = StageLogCursor(path: dir + "/train.log").countLines()
        #expect(total == onDisk.filter { $0 == 0x0a }.count)
        let tail = StageLogCursor(path: dir + "/train.log")
        #expect(tail.skipLines(total - 3) == total - 3)
        var rest: [UInt8] = []
        while let chunk = tail.read() { rest += chunk }
        #expect(rest == lines(997..<1000), "skipping lines positions the cursor at a line start")
    }

    @Test func aFollowerGetsEveryLineOnceWhileTheStageWritesAndRotates() async throws {
        let dir = try scratch()
        defer { FileSystem.removeTree(dir) }
        let path = dir + "/generate.log"
        let log = try StageLogFile(path: path, maxSize: 60_000)
        let broadcaster = LogBroadcaster()
        broadcaster.setRunActive(true, runEnding: "")
        for i in 0..<500 {
            broadcaster.publish(lines(i..<(i + 1)), lines: 1, path: path) { log.append(lines(i..<(i + 1))) }
        }
        let feed = StageLogFeed(cursor: StageLogCursor(path: path), follow: true, broadcaster: broadcaster)
        let writer = Task.detached {
            for i in 500..<2000 {
                broadcaster.publish(self.lines(i..<(i + 1)), lines: 1, path: path) {
                    log.append(self.lines(i..<(i + 1)))
                }
                if i % 100 == 0 { try? await Task.sleep(nanoseconds: 1_000_000) }
            }
            broadcaster.end(path: path, .succeeded("exit 0"))
        }
        var received: [UInt8] = []
        while let chunk = await feed.next() { received += chunk }
        await writer.value
        #expect(received == lines(0..<2000), "no line lost or doubled between the files and the live feed")
        #expect(await feed.ending == .succeeded("exit 0"))
    }
}
