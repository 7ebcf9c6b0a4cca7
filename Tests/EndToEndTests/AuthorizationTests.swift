import HeidiCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Peer-credential authorization with real unprivileged users (SPEC §5): the socket's group and mode keep
/// strangers out, group members may control, and a reader who is not in control.group gets 403.
@Suite(.serialized)
struct AuthorizationTests {
    static let group = "heidi-e2e-ctl"
    static let nobody = "65534"

    /// `setpriv` runs heidictl as another user with exactly the groups given.
    func asNobody(groups: String?, _ s: Session, _ arguments: String...) async throws -> ProcessResult {
        let setpriv = try #require(
            Binaries.onPath("setpriv"),
            "setpriv (util-linux) is needed to run heidictl as another user"
        )
        var argv = [setpriv, "--reuid=\(Self.nobody)", "--regid=\(Self.nobody)"]
        argv.append(groups.map { "--groups=\($0)" } ?? "--clear-groups")
        argv += [Binaries.heidictl, "--socket", s.socket] + arguments
        return try await Processes.run(argv, environment: TestEnvironment.make(["HOME": "/"]))
    }

    func controlGroupID() async throws -> UInt32 {
        if getgrnam(Self.group) == nil {
            let groupadd = try #require(
                Binaries.onPath("groupadd")
                    ?? ["/usr/sbin/groupadd", "/sbin/groupadd"].first { access($0, X_OK) == 0 },
                "groupadd is needed to create the test's control group"
            )
            let result = try await Processes.run([groupadd, "-f", Self.group])
            #expect(result.status == 0, "groupadd: \(result)")
        }
        return try #require(getgrnam(Self.group)?.pointee.gr_gid, "group \(Self.group) does not exist")
    }

    /// Lets other users reach the socket's directory, so the socket's own mode and group decide.
    func openDirectory(_ s: Session) { chmod(s.dir.path, 0o755) }

    @Test("outsiders are refused at the socket; control-group members may read and control")
    func groupMembership() async throws {
        let gid = try await controlGroupID()
        let s = try Session()
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell() + "control:\n  group: \(Self.group)\n")
        openDirectory(s)
        try await s.startDaemon()

        var st = stat()
        #expect(
            stat(s.socket, &st) == 0 && st.st_mode & 0o777 == 0o660 && st.st_gid == gid,
            "socket mode 0660, group \(Self.group)"
        )

        let outsider = try await asNobody(groups: nil, s, "status")
        #expect(outsider.status == 4, "\(outsider)")
        #expect(
            outsider.stderr.contains("permission denied") && outsider.stderr.contains("group \(Self.group)")
                && outsider.stderr.contains("usermod -aG \(Self.group) $USER")
                && outsider.stderr.contains("mode 0660"),
            "\(outsider)"
        )

        let member = try await asNobody(groups: String(gid), s, "status")
        #expect(member.status == 0, "\(member)")
        let start = try await asNobody(groups: String(gid), s, "--json", "start")
        #expect(start.status == 0, "a member of control.group may control: \(start)")
        #expect(start.stdout.contains("\"accepted\":true"))
    }

    @Test("control.group names a group that does not exist: both refusals say so and name the socket")
    func missingControlGroup() async throws {
        let missing = "heidi-e2e-none-\(getpid())"
        #expect(getgrnam(missing) == nil)
        let s = try Session()
        defer { s.tearDown() }
        try s.writeConfig(TestConfig.shell() + "control:\n  socket: \(s.socket)\n  group: \(missing)\n")
        openDirectory(s)
        chmod(try #require(s.configPath), 0o644)
        try await s.startDaemon()
        let config = try #require(s.configPath)

        // Kept out by the socket's mode (it keeps heidid's group, root): exit 4, and no advice to join root.
        let outsider = try await asNobody(groups: nil, s, "--config", config, "status")
        #expect(outsider.status == 4, "\(outsider)")
        #expect(
            outsider.stderr.contains("permission denied on \(s.socket)")
                && outsider.stderr.contains(
                    "control.group is '\(missing)' (\(config)), but no group '\(missing)' exists"
                )
                && outsider.stderr.contains("groupadd \(missing)") && !outsider.stderr.contains("join group root"),
            "\(outsider)"
        )

        // A reader in the socket's group gets 403 on POST, naming the socket and the missing group.
        let refused = try await asNobody(groups: "0", s, "--config", config, "start")
        #expect(refused.status == 4, "\(refused)")
        #expect(
            refused.stderr.contains(s.socket) && refused.stderr.contains("no group '\(missing)' exists")
                && !refused.stderr.contains("no control group is configured"),
            "\(refused)"
        )
    }

    @Test("a reader outside control.group may GET but gets 403 (exit 4) on POST")
    func readersCannotControl() async throws {
        let s = try Session()
        defer { s.tearDown() }
        // No control group: the socket keeps the daemon's group (root), which the reader has as a supplementary group.
        try s.writeConfig(TestConfig.shell() + "control:\n  group: \"\"\n")
        openDirectory(s)
        try await s.startDaemon()

        #expect(try await asNobody(groups: "0", s, "status").status == 0, "reading is allowed")
        let refused = try await asNobody(groups: "0", s, "start")
        #expect(refused.status == 4, "\(refused)")
        #expect(refused.stderr.contains("may read but not control"), "\(refused)")
        #expect(try await s.status().state == .idle, "nothing was started")
    }
}
