import HeidiCore

/// Journal writes are failing (disk full, EIO): since when, why, and which events could not be recorded.
public struct JournalFailure: Sendable, Equatable {
    public var since: Timestamp
    public var error: String
    public private(set) var lostCount = 0
    /// The first 20 lost events' types.
    public private(set) var lostTypes: [String] = []

    public init(since: Timestamp, error: String) {
        self.since = since
        self.error = error
    }

    mutating func lost(_ type: EventType) {
        lostCount += 1
        if lostTypes.count < 20 { lostTypes.append(type.rawValue) }
    }

    /// The `journal_recovered` record's message at `time`: how long writes failed, why, and what was lost.
    func recoveryMessage(at time: Timestamp) -> String {
        let seconds = Double(time.microseconds - since.microseconds) / 1e6
        var message = "journal writes work again after \(Units.formatDuration(seconds)) of failures (\(error)); "
        message +=
            lostCount == 0
            ? "no event was lost"
            : "\(lostCount) events could not be recorded: \(lostTypes.joined(separator: ", "))"
                + (lostCount > lostTypes.count ? ", …" : "")
        return message
    }
}
