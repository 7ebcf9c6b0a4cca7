/// One attempt at running a stage: `retries` makes up to `retries + 1` of them within one pipeline stage.
public struct StageAttempt: Sendable, Equatable {
    public var stage: Stage
    public var round: Int
    public var runID: String?
    /// 1 for the first attempt.
    public var number: Int
    public var total: Int

    public init(stage: Stage, round: Int, runID: String?, number: Int, total: Int) {
        self.stage = stage
        self.round = round
        self.runID = runID
        self.number = number
        self.total = total
    }

    /// ` (attempt 2/3)`, or nothing for a stage without retries.
    public var suffix: String { total > 1 ? " (attempt \(number)/\(total))" : "" }
}
