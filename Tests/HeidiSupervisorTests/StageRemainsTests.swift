import HeidiCore
import HeidiSupervisor
import HeidiTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a dead daemon's stage left: found by process group and by instance marker, never by a reused pid.
@Suite("Stage remains after a daemon crash", .serialized)
struct StageRemainsTests {
    /// A process started like a stage (own session and group), with `environment`; the caller reaps it.
    func spawn(_ script: String, environment: [String: String] = [:]) throws -> ChildProcess {
        try ChildProcess.spawn(
            LaunchSpec(
                argv: ["/bin/sh", "-c", script],
                environment: ["PATH": "/usr/bin:/bin"].merging(environment) { $1 },
                workingDirectory: "/tmp"
            )
        )
    }

    @Test func theGroupAndEveryProcessWithTheMarkerAreKilledAndWaitedFor() async throws {
        let token = "remains\(UInt64.random(in: 0...UInt64.max))"
        let pidFile = temporaryPath("escaper")
        let stage = try spawn(
            Fixture.setsidEscaper(pidFile: pidFile) + "; exec sleep 60",
            environment: ["HEIDI_STAGE_INSTANCE": token]
        )
        let escaper = try #require(await PidFile.read(pidFile))
        #expect(
            ProcessTable.info(escaper).map { $0.session != stage.pid } == true,
            "the escaper left the stage's session"
        )
        // Without the marker (a state.json of an older heidid) only the group is found: the escaper is not.
        let groupOnly = StageRemains(pgid: stage.pid, startTicks: stage.startTicks, instanceToken: nil, cgroupPath: nil)
        #expect(groupOnly.members().map(\.pid) == [stage.pid])
        let remains = StageRemains(pgid: stage.pid, startTicks: stage.startTicks, instanceToken: token, cgroupPath: nil)
        #expect(Set(remains.members().map(\.pid)) == [stage.pid, escaper])
        let outcome = remains.kill()
        #expect(outcome == StageRemains.Outcome(killed: 2, survivors: []))
        #expect(!isAlive(escaper) && !isAlive(stage.pid), "nothing is left when kill returns")
        waitpid(stage.pid, nil, 0)
    }

    @Test func aReusedPidIsNeverTakenForTheStage() async throws {
        let stranger = try spawn("exec sleep 60")
        defer {
            kill(stranger.pid, SIGKILL)
            waitpid(stranger.pid, nil, 0)
        }
        // state.json names the stranger's pid as the stage's group, with another start time: the number was reused.
        let remains = StageRemains(
            pgid: stranger.pid,
            startTicks: stranger.startTicks &+ 1,
            instanceToken: "nobody-has-this",
            cgroupPath: nil
        )
        #expect(remains.members().isEmpty)
        #expect(remains.kill() == StageRemains.Outcome(killed: 0, survivors: []))
        #expect(isAlive(stranger.pid))
    }
}
