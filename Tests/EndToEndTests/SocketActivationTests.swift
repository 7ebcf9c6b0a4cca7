import HeidiCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Socket activation (SPEC §9) with systemd's own `systemd-socket-activate`: it binds the socket, starts heidid on
/// the first connection with LISTEN_FDS, and heidid serves that descriptor and never unlinks the socket.
@Suite(.serialized)
struct SocketActivationTests {
    @Test("heidid serves a socket-activated descriptor and leaves the socket in place when it exits")
    func activation() async throws {
        let activate = try #require(
            Binaries.onPath("systemd-socket-activate"),
            "systemd-socket-activate (package systemd) is needed to test socket activation"
        )
        let s = try Session(environment: ["HEIDI_MOCK_SUBPROCESSES": "1"])
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell())
        let log = try CaptureFile()
        defer { log.close() }
        let argv = [
            activate, "-l", s.socket, Binaries.heidid, "--config", s.configPath ?? "", "--state-dir", s.stateDir,
            "--socket", s.socket, "--log-target", "stderr",
        ]
        let pid = try Processes.spawn(
            argv,
            environment: TestEnvironment.make(["HEIDI_MOCK_SUBPROCESSES": "1"]),
            stdout: log.fd,
            stderr: log.fd
        )
        defer {
            Processes.killGroupAndReap(pid)
        }
        try await s.waitUntil("the activation socket to exist") { FileSystem.exists(s.socket) ? true : nil }
        // The first connection starts heidid, which answers on the inherited descriptor.
        let status = try await s.ctl("status")
        #expect(status.status == 0, "\(status)\n\(String(decoding: log.contents(), as: UTF8.self))")
        #expect(try await s.ctl("start").status == 0)
        try await s.waitForEvent("pipeline_complete")
        #expect(String(decoding: log.contents(), as: UTF8.self).contains("socket activation"))

        kill(pid, SIGTERM)
        let exit = await Processes.wait(pid, timeout: 15)
        #expect(exit == 0, "\(String(decoding: log.contents(), as: UTF8.self))")
        var st = stat()
        #expect(
            lstat(s.socket, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK,
            "the activated socket must not be unlinked"
        )
    }
}
