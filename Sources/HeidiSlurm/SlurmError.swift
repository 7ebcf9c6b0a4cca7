/// Why a Slurm command did not give heidi what it asked for.
public enum SlurmError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The controller did not answer (down, restarting, overloaded): heidi reports it and waits, it never gives up a
    /// running job for it.
    case unreachable(command: String, detail: String)
    /// Slurm does not know the job (never submitted, or forgotten after MinJobAge or a reset).
    case unknownJob(command: String, id: String)
    /// The command failed for another reason (bad option, refused submission, missing program).
    case failed(command: String, status: String, detail: String)
    /// The command succeeded but printed something heidi cannot read.
    case unreadable(command: String, output: String)

    public var description: String {
        switch self {
        case .unreachable(let command, let detail): return "\(command): the Slurm controller is unreachable (\(detail))"
        case .unknownJob(let command, let id): return "\(command): Slurm does not know job \(id)"
        case .failed(let command, let status, let detail): return "\(command) failed (\(status)): \(detail)"
        case .unreadable(let command, let output):
            return "\(command) printed something heidi cannot read: \(output.prefix(200))"
        }
    }

    /// What Slurm's tools print when the controller (or slurmdbd) cannot be reached.
    static let unreachableMarks = [
        "Unable to contact slurm controller", "Socket timed out", "Connection refused", "Connection timed out",
        "Zero Bytes were transmitted", "Slurm backup controller in standby", "Unable to establish connection",
        "Communication connection failure", "Transport endpoint is not connected", "Slurmctld not responding",
    ]

    /// Classifies a failed command by its stderr.
    static func classify(command: String, status: String, stderr: String, jobID: String?) -> SlurmError {
        let detail = stderr.split(whereSeparator: \.isNewline).last.map(String.init) ?? stderr
        if unreachableMarks.contains(where: { stderr.lowercased().contains($0.lowercased()) }) {
            return .unreachable(command: command, detail: detail)
        }
        if let jobID, stderr.contains("Invalid job id specified") { return .unknownJob(command: command, id: jobID) }
        return .failed(command: command, status: status, detail: detail.isEmpty ? "no message" : detail)
    }
}
