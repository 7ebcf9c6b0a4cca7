import HeidiSupervisor
import Testing

/// `CommandRunner`, the one way heidi runs a short command to completion (journalctl, nvidia-smi).
@Suite("Command runner")
struct CommandRunnerTests {
    @Test func collectsStdoutStderrAndTheExitStatus() throws {
        let result = try CommandRunner.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
        #expect(result == CommandRunner.Output(status: 3, stdout: Array("out\n".utf8), stderr: Array("err\n".utf8)))
    }

    @Test func aKilledCommandReportsItsSignal() throws {
        #expect(try CommandRunner.run(["sh", "-c", "kill -TERM $$"]).status == 128 + 15)
    }

    @Test func aCommandMissingFromPATHIsAnErrorNamingIt() {
        #expect { try CommandRunner.run(["heidi-no-such-command"]) } throws: {
            "\($0)".contains("cannot run heidi-no-such-command")
        }
    }

    @Test func outputLargerThanAPipeBufferOnBothStreamsIsNotADeadlock() throws {
        let result = try CommandRunner.run(["sh", "-c", "head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2"])
        #expect(result.stdout.count == 300_000 && result.stderr.count == 300_000)
    }
}
