/// What a stage executor that runs stages outside heidid (a batch scheduler) needs to find a stage again after a
/// heidid restart: persisted in `state.json` (`stage_executor`) as soon as the launcher reports it, and handed back to
/// that launcher on recovery. The engine never reads `fields`; for Slurm they are `job_name`, `output` and, once
/// sbatch answered, `job_id`.
public struct ExecutorRecord: Sendable, Equatable, Codable {
    /// The executor's name (`slurm`).
    public var executor: String
    public var fields: [String: String]

    public init(executor: String, fields: [String: String]) {
        self.executor = executor
        self.fields = fields
    }

    /// The fields as `key=value` words in key order, for messages (`job_id=42 job_name=heidi.… output=…`).
    public var described: String {
        fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}
