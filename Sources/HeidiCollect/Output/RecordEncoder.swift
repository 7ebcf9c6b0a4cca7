import HeidiCore

/// The dataset line of a generated sample, byte for byte the same for the same inputs:
///
/// `{"id":..,"instruction":..,"input":..,"output":..,"metadata":{"teacher_model":..,"teacher_backend":"heidi-collect",
/// "provider":..,"task_type":..,"language":..,"round":..,"seed":..,"prompt_index":..,
/// "usage":{"input_tokens":..,"output_tokens":..},"validation":{..}}}`
///
/// `validation` is `{"checked":true,"passed":true,"reason":"ok","validator":"toolchains","languages":["python"]}`,
/// or `{"checked":false}` with `--no-validate`. Keys are in this fixed order; the line ends with `\n`. The key set
/// `id, instruction, input, output, metadata` is what the original engine's validate stage requires.
public struct RecordEncoder: Sendable {
    public var provider: String
    public var round: Int
    public var seed: UInt64
    public var validatorName: String?

    public init(provider: String, round: Int, seed: UInt64, validatorName: String?) {
        self.provider = provider
        self.round = round
        self.seed = seed
        self.validatorName = validatorName
    }

    public func line(_ sample: GeneratedSample, model: String) -> [UInt8] {
        let task = sample.task
        var out: [UInt8] = []
        out.reserveCapacity(
            512 + task.instruction.utf8.count + task.input.utf8.count + sample.response.content.utf8.count
        )
        out.append(contentsOf: #"{"id":"#.utf8)
        JSONText.appendString(task.id, to: &out)
        out.append(contentsOf: #","instruction":"#.utf8)
        JSONText.appendString(task.instruction, to: &out)
        out.append(contentsOf: #","input":"#.utf8)
        JSONText.appendString(task.input, to: &out)
        out.append(contentsOf: #","output":"#.utf8)
        JSONText.appendString(sample.response.content, to: &out)
        out.append(contentsOf: #","metadata":{"teacher_model":"#.utf8)
        JSONText.appendString(model, to: &out)
        out.append(contentsOf: #","teacher_backend":"heidi-collect","provider":"#.utf8)
        JSONText.appendString(provider, to: &out)
        out.append(contentsOf: #","task_type":"#.utf8)
        JSONText.appendString(task.taskType, to: &out)
        out.append(contentsOf: #","language":"#.utf8)
        JSONText.appendString(task.language, to: &out)
        out.append(contentsOf: #","round":\#(round),"seed":\#(seed),"prompt_index":\#(task.index)"#.utf8)
        out.append(
            contentsOf:
                #","usage":{"input_tokens":\#(sample.response.usage.inputTokens),"output_tokens":\#(sample.response.usage.outputTokens)"#
                .utf8
        )
        if sample.response.usage.estimated { out.append(contentsOf: #","estimated":true"#.utf8) }
        out.append(contentsOf: #"},"validation":"#.utf8)
        if let verdict = sample.verdict {
            out.append(contentsOf: #"{"checked":true,"passed":"#.utf8)
            out.append(contentsOf: (verdict.passed ? "true" : "false").utf8)
            out.append(contentsOf: #","reason":"#.utf8)
            JSONText.appendString(verdict.rejectionReason ?? "ok", to: &out)
            out.append(contentsOf: #","validator":"#.utf8)
            JSONText.appendString(validatorName ?? "unknown", to: &out)
            out.append(contentsOf: #","languages":"#.utf8)
            JSONText.appendStringArray(verdict.languages, to: &out)
            out.append(UInt8(ascii: "}"))
        } else {
            out.append(contentsOf: #"{"checked":false}"#.utf8)
        }
        out.append(contentsOf: "}}\n".utf8)
        return out
    }
}
