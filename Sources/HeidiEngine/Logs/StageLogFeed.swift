/// One `GET /api/v1/logs` reader: a stage log read from its files (across rotation) at the reader's pace, then,
/// when following, live output from the `LogBroadcaster` until the stage or the run ends. The daemon holds one
/// chunk for the file part and at most the broadcaster's capacity for the live part, whatever the log's size
/// and the client's speed.
actor StageLogFeed {
    private let cursor: StageLogCursor
    private let follow: Bool
    private let broadcaster: LogBroadcaster
    private var live: FollowerQueue?
    private var done = false
    /// How the followed stage ended, once the feed has ended (nil without follow, or when the daemon stops).
    private(set) var ending: StageLogEnding?

    init(cursor: StageLogCursor, follow: Bool, broadcaster: LogBroadcaster) {
        self.cursor = cursor
        self.follow = follow
        self.broadcaster = broadcaster
    }

    /// The next chunk, or nil at the end of the feed.
    func next() async -> [UInt8]? {
        var fruitless = 0
        while !done {
            if let live {
                let chunk = await withTaskCancellationHandler {
                    await live.next()
                } onCancel: {
                    live.finish()
                }
                if let chunk { return chunk }
                ending = live.ending
                done = true
                return nil
            }
            if let chunk = cursor.read() { return chunk }
            guard follow else {
                done = true
                return nil
            }
            switch broadcaster.subscribe(path: cursor.path, caughtUp: { cursor.isCaughtUp() }) {
            case .live(let queue):
                live = queue
            case .ended(let how):
                ending = how
                done = true
            case .behind:
                // An append landed between the read and the subscription, or a file changed under us: read on.
                fruitless += 1
                if fruitless > 3 { try? await Task.sleep(for: .milliseconds(10)) }
                if Task.isCancelled { done = true }
            }
        }
        return nil
    }

    /// How the stream ended, for the response's trailer.
    func endingTrailer() -> String? { ending?.trailer }
}
