import HeidiCore
import HeidiSupervisor
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The adapter between the validator and HeidiSupervisor: runs one toolchain command as a supervised child, the
/// way heidid runs a stage. The child leads its own session and process group, gets `/dev/null` as stdin, an
/// explicit environment and no other inherited descriptors; its output is captured (bounded); on timeout or
/// cancellation its whole tree gets SIGTERM, then SIGKILL after the grace period, and no process of it outlives
/// `run()`. argv only: no shell is involved.
struct SupervisedCommand: Sendable {
    var argv: [String]
    var environment: [String: String]
    var workingDirectory: String
    var timeout: Double
    var grace: Double
    var outputLimit: Int

    /// How the command ended and what it printed.
    struct Outcome: Sendable {
        enum Ending: Sendable, Equatable {
            case exited(Int)
            case signaled(Int)
            case timedOut
            case cancelled
        }

        var ending: Ending
        var stdout: String
        var stderr: String
        var wallMilliseconds: Int64
        /// Pids of the tree that could not be killed (the supervisor logs them; should always be empty).
        var survivors: [Int32]
    }

    /// Supervision messages ("stage terminating") are not wanted in a collector's log: the report says it all.
    private static let quietLogger = Logger(label: "heidi.validation", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Runs the command to its end. Cancelling the calling task stops the child (TERM, grace, KILL).
    func run() async throws(ValidationError) -> Outcome {
        let output = CapturedOutput(limit: outputLimit)
        let spec = LaunchSpec(argv: argv, environment: environment, workingDirectory: workingDirectory)
        let token = "check-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
        let stage: RunningStage
        do {
            stage = try RunningStage.start(
                spec,
                instanceToken: token,
                timeout: timeout,
                grace: grace,
                cgroups: nil,
                logger: Self.quietLogger,
                onOutput: { output.append($0) }
            )
        } catch {
            throw .spawn(error)
        }
        // Cancelling this task makes `waitForEnd` stop the child, and it still waits until the whole tree is gone.
        let result = await stage.waitForEnd()
        let ending: Outcome.Ending
        switch result.ending {
        case .timedOut, .hung: ending = .timedOut
        case .stopped: ending = .cancelled
        case .spawnFailed, .outOfMemory, .nodeFailed, .preempted, .unknown:
            // A local child ends only in the four ways above; a batch scheduler's endings never reach a check.
            ending = .signaled(result.exit.signal ?? 0)
        case .exited:
            if let code = result.exit.exitCode {
                ending = .exited(code)
            } else {
                ending = .signaled(result.exit.signal ?? 0)
            }
        }
        return Outcome(
            ending: ending,
            stdout: output.stdout,
            stderr: output.stderr,
            wallMilliseconds: result.wallMilliseconds,
            survivors: result.survivors
        )
    }
}
