import HeidiCore
import HeidiJournal
import HeidiTestSupport
import Testing

/// `Journal`, the journal's state behind the engine: group commit, a write failure and its recovery record,
/// checkpoint timing, and followers.
@Suite("Journal")
struct JournalTests {
    func open(_ policy: FsyncPolicy = .batch, interval: Double = 60) throws -> (Journal, JournalKey) {
        let directory = makeTemporaryDirectory()
        let journal = Journal(
            writer: try JournalWriter(path: directory + "/events.jsonl", fsync: policy),
            checkpointInterval: interval
        )
        let key = try JournalKey.loadOrCreate(directory + "/journal.key").key
        return (journal, key)
    }

    func at(seconds: Int64) -> Timestamp { Timestamp(microseconds: fixedTime.microseconds + seconds * 1_000_000) }

    @Test func batchHandsOverLinesOnlyAfterTheirSync() throws {
        let (journal, _) = try open(.batch)
        let first = try journal.append(EventDraft(.daemonStart, message: "a"), at: fixedTime)
        let second = try journal.append(EventDraft(.stageStart, message: "b"), at: fixedTime)
        #expect(try journal.sync().map(\.seq) == [first.seq, second.seq])
        #expect(try journal.sync().isEmpty)
    }

    @Test func otherPoliciesHoldNothingBackForASync() throws {
        let (journal, _) = try open(.always)
        _ = try journal.append(EventDraft(.daemonStart, message: "a"), at: fixedTime)
        #expect(try journal.sync().isEmpty)
    }

    @Test func aFailureIsRecordedOnceWithWhatItLost() throws {
        let (journal, _) = try open(.never)
        #expect(try journal.recover(at: fixedTime, runID: nil, round: 0) == nil)
        #expect(journal.writeFailed("disk full", lost: .stageStart, at: fixedTime))
        #expect(!journal.writeFailed("still full", lost: .stageEnd, at: at(seconds: 1)))
        #expect(journal.failure?.lostTypes == ["stage_start", "stage_end"])
        let recovered = try #require(try journal.recover(at: at(seconds: 90), runID: "r1", round: 2))
        #expect(journal.failure == nil)
        #expect(recovered.failure.error == "still full")
        #expect(recovered.written.draft.type == .journalRecovered)
        #expect(recovered.written.draft.runID == "r1")
        #expect(recovered.written.draft.countersDelta == ["lost_events": 2])
        #expect(
            recovered.written.draft.message.contains(
                "(still full); 2 events could not be recorded: stage_start, stage_end"
            )
        )
    }

    @Test func aCheckpointIsDueOneIntervalAfterTheLast() throws {
        let (journal, key) = try open(.never, interval: 60)
        #expect(try journal.appendCheckpoint(at: fixedTime) == nil)  // no key yet
        #expect(journal.checkpointDue(now: fixedTime))
        journal.useKey(key)
        let first = try #require(try journal.appendCheckpoint(at: fixedTime))
        #expect(first.draft.type == .checkpoint)
        #expect(journal.lastCheckpoint == fixedTime)
        #expect(try journal.appendDueCheckpoint(at: at(seconds: 59)) == nil)
        #expect(!journal.checkpointDue(now: at(seconds: 59)))
        #expect(journal.secondsUntilCheckpoint(now: at(seconds: 45)) == 15)
        #expect(journal.secondsUntilCheckpoint(now: at(seconds: -600)) == 60)  // a clock set back never delays it
        #expect(try journal.appendDueCheckpoint(at: at(seconds: 60))?.draft.type == .checkpoint)
        #expect(journal.lastCheckpoint == at(seconds: 60))
    }

    @Test func aFollowerBehindIsToldSoAndALiveOneGetsEveryNewLineUntilClose() async throws {
        let (journal, _) = try open(.never)
        let first = try journal.append(EventDraft(.daemonStart, message: "a"), at: fixedTime)
        guard case .behind = journal.subscribe(after: first.seq - 1) else {
            Issue.record("a feed behind the file was subscribed")
            return
        }
        guard case .live(let buffer) = journal.subscribe(after: first.seq) else {
            Issue.record("not subscribed")
            return
        }
        let second = try journal.append(EventDraft(.stageStart, message: "b"), at: fixedTime)
        journal.close()
        #expect(await buffer.next() == .line(second.line))
        #expect(await buffer.next() == .finished)
    }
}
