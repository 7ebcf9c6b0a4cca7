import HeidiCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The shipped systemd files (units/, contrib/sysusers.d, contrib/tmpfiles.d) against SPEC §9, checked with systemd's
/// own tools where they work without systemd as PID 1: `systemd-analyze security --offline=yes` (the sandbox score),
/// `systemd-sysusers --root` and `systemd-tmpfiles --root` on a scratch root. The same files booted under a real
/// systemd are covered by contrib/systemd-e2e/run.sh (`make systemd-test`).
@Suite(.serialized)
struct UnitSecurityTests {
    static let repositoryRoot = FileSystem.dirname(FileSystem.dirname(FileSystem.dirname(#filePath)))
    static let serviceUnit = repositoryRoot + "/units/heidi.service"
    static let socketUnit = repositoryRoot + "/units/heidi.socket"

    /// `systemd-analyze security --offline=yes --threshold=20 UNIT`: its exit status and the overall exposure it printed.
    static func analyze(_ unit: String) async throws -> (status: Int32, exposure: Double, output: String) {
        let analyze = try requireTool("systemd-analyze")
        let result = try await Processes.run([
            analyze, "security", "--offline=yes", "--threshold=20", "--no-pager", unit,
        ])
        let output = result.stdout + result.stderr
        guard let line = output.split(separator: "\n").first(where: { $0.contains("Overall exposure level for") }),
            let value = line.split(separator: ":").last?.split(separator: " ").first, let exposure = Double(value)
        else { throw HarnessError("systemd-analyze security printed no overall exposure for \(unit):\n\(output)") }
        return (result.status, exposure, output)
    }

    @Test("systemd-analyze security --offline=yes: heidi.service has an exposure of at most 2.0")
    func exposure() async throws {
        let result = try await Self.analyze(Self.serviceUnit)
        #expect(result.exposure <= 2.0, "exposure \(result.exposure) > 2.0:\n\(result.output)")
        #expect(result.status == 0, "--threshold=20 failed:\n\(result.output)")
    }

    @Test("the exposure check fails for a unit without the sandbox (so it can catch a regression)")
    func exposureCheckCanFail() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        // heidi.service without its [Service] hardening: everything after "---- sandbox" up to [Install] removed.
        let unit = try UnitFile(path: Self.serviceUnit)
        let weakened = unit.text.components(separatedBy: "\n").reduce(into: (lines: [String](), skipping: false)) {
            state,
            line in
            if line.hasPrefix("# ---- sandbox") { state.skipping = true }
            if line.hasPrefix("[Install]") { state.skipping = false }
            if !state.skipping { state.lines.append(line) }
        }.lines.joined(separator: "\n")
        #expect(weakened.count < unit.text.count - 500, "the sandbox section of heidi.service was not found")
        let path = try dir.write("heidi.service", weakened)
        let result = try await Self.analyze(path)
        #expect(result.exposure > 2.0, "an unsandboxed unit scored \(result.exposure)")
        #expect(result.status != 0, "--threshold=20 did not fail for exposure \(result.exposure)")
    }

    @Test("heidi.service has what SPEC §9 and operations need")
    func serviceDirectives() throws {
        let unit = try UnitFile(path: Self.serviceUnit)
        let required: [(String, String, String)] = [
            ("Service", "Type", "notify"), ("Service", "NotifyAccess", "main"), ("Service", "Restart", "on-failure"),
            ("Service", "KillMode", "mixed"), ("Service", "RuntimeDirectory", "heidi"),
            ("Service", "StateDirectory", "heidi"),
            ("Service", "ExecReload", "/bin/kill -HUP $MAINPID"), ("Service", "User", "heidi"),
            ("Service", "Group", "heidi"),
            ("Service", "Delegate", "yes"), ("Service", "DevicePolicy", "closed"),
            ("Service", "DeviceAllow", "char-nvidia-frontend rw"), ("Service", "DeviceAllow", "char-nvidia-uvm rw"),
            ("Service", "DeviceAllow", "char-nvidia-caps rw"), ("Service", "ProtectSystem", "strict"),
            ("Service", "NoNewPrivileges", "yes"), ("Unit", "Wants", "heidi.socket"),
            ("Install", "WantedBy", "multi-user.target"),
        ]
        for (section, key, value) in required {
            #expect(
                unit.values(section, key).contains(value),
                "[\(section)] \(key)=\(value) missing; has \(unit.values(section, key))"
            )
        }
        for (section, key) in [
            ("Service", "WatchdogSec"), ("Service", "RestartSec"), ("Service", "TimeoutStopSec"),
            ("Unit", "StartLimitIntervalSec"), ("Unit", "StartLimitBurst"),
        ] {
            let values = unit.values(section, key)
            let seconds = values.last.flatMap { Units.parseDuration($0.replacingMinutes()) } ?? 0
            #expect(seconds > 0, "[\(section)] \(key) must be set to a positive value; has \(values)")
        }
        let execStart = unit.values("Service", "ExecStart")
        #expect(
            execStart == ["/usr/local/bin/heidid --config /etc/heidi/heidi.yaml"],
            "ExecStart (make install rewrites /usr/local/bin/heidid for PREFIX): \(execStart)"
        )
        // Delegate=yes needs a writable cgroup tree; ProtectControlGroups=yes would make it read-only.
        #expect(unit.values("Service", "ProtectControlGroups").last != "yes")
        // Operators are told how to open dataset paths in the sandbox.
        #expect(unit.text.contains("#ReadWritePaths="), "heidi.service must document ReadWritePaths= for datasets")
    }

    @Test("heidi.socket is the SPEC §9 control socket")
    func socketDirectives() throws {
        let unit = try UnitFile(path: Self.socketUnit)
        let required: [(String, String, String)] = [
            ("Socket", "ListenStream", "/run/heidi/heidi.sock"), ("Socket", "SocketMode", "0660"),
            ("Socket", "SocketGroup", "heidi"), ("Socket", "Service", "heidi.service"),
            ("Install", "WantedBy", "sockets.target"),
        ]
        for (section, key, value) in required {
            #expect(
                unit.values(section, key).contains(value),
                "[\(section)] \(key)=\(value) missing; has \(unit.values(section, key))"
            )
        }
        let accept = unit.values("Socket", "Accept")
        #expect(accept == [] || accept == ["no"], "heidid takes one listening socket (Accept=no): \(accept)")
    }

    @Test("sysusers.d creates user and group heidi, and tmpfiles.d then makes /etc/heidi readable by the group only")
    func sysusersAndTmpfiles() async throws {
        guard geteuid() == 0 else {
            throw HarnessError("this test must run as root: systemd-tmpfiles --root chowns files to the heidi group")
        }
        let sysusers = try requireTool("systemd-sysusers")
        let tmpfiles = try requireTool("systemd-tmpfiles")
        let root = try TempDirectory()
        defer { root.remove() }
        for dir in ["/etc/heidi", "/usr/lib/sysusers.d", "/usr/lib/tmpfiles.d"] {
            let made = try await Processes.run(["/bin/mkdir", "-p", root.path + dir])
            #expect(made.status == 0, "\(made)")
        }
        try root.write(
            "usr/lib/sysusers.d/heidi.conf",
            String(decoding: try FileSystem.read(Self.repositoryRoot + "/contrib/sysusers.d/heidi.conf"), as: UTF8.self)
        )
        try root.write(
            "usr/lib/tmpfiles.d/heidi.conf",
            String(decoding: try FileSystem.read(Self.repositoryRoot + "/contrib/tmpfiles.d/heidi.conf"), as: UTF8.self)
        )
        try root.write("etc/heidi/heidi.yaml", "pipeline: {rounds: 1}\n")  // written 0644, as an editor might leave it

        let users = try await Processes.run([sysusers, "--root=" + root.path])
        #expect(users.status == 0, "systemd-sysusers: \(users)")
        let passwd = String(decoding: try FileSystem.read(root.file("etc/passwd")), as: UTF8.self)
        let group = String(decoding: try FileSystem.read(root.file("etc/group")), as: UTF8.self)
        // (No closure literals inside #expect/#require: see the note at the top of Session.swift.)
        let userLine = passwd.split(separator: "\n").first { $0.hasPrefix("heidi:") }
        let groupLine = group.split(separator: "\n").first { $0.hasPrefix("heidi:") }
        let user = try #require(userLine, "no heidi user in \(passwd)")
        let groupEntry = try #require(groupLine, "no heidi group in \(group)")
        let fields = user.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let gid = String(groupEntry.split(separator: ":", omittingEmptySubsequences: false)[2])
        try #require(fields.count == 7, "malformed passwd line: \(user)")
        #expect(fields[3] == gid, "heidi's primary group is not heidi: \(user)")
        #expect(fields[5] == "/var/lib/heidi", "home: \(user)")
        #expect(fields[6].hasSuffix("nologin"), "shell: \(user)")

        let created = try await Processes.run([tmpfiles, "--root=" + root.path, "--create"])
        #expect(created.status == 0, "systemd-tmpfiles: \(created)")
        for (path, mode) in [("etc/heidi", 0o750), ("etc/heidi/heidi.yaml", 0o640)] {
            var st = stat()
            #expect(stat(root.file(path), &st) == 0)
            #expect(Int(st.st_mode) & 0o7777 == mode, "\(path): mode \(String(Int(st.st_mode) & 0o7777, radix: 8))")
            #expect(
                st.st_uid == 0 && String(st.st_gid) == gid,
                "\(path): owner \(st.st_uid):\(st.st_gid), expected 0:\(gid)"
            )
        }
    }
}

/// A systemd unit file read as (section, key, value) entries, in order; comments and blank lines skipped,
/// backslash continuations joined.
struct UnitFile {
    let text: String
    let entries: [(section: String, key: String, value: String)]

    init(path: String) throws {
        text = String(decoding: try FileSystem.read(path), as: UTF8.self)
        var section = ""
        var result: [(String, String, String)] = []
        var pending = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = pending + raw.trimmingWhitespace()
            pending = ""
            if line.hasSuffix("\\") {
                line.removeLast()
                pending = line + " "
                continue
            }
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
                continue
            }
            guard let equals = line.firstIndex(of: "=") else { continue }
            result.append(
                (
                    section, String(line[..<equals]).trimmingWhitespace(),
                    String(line[line.index(after: equals)...]).trimmingWhitespace()
                )
            )
        }
        entries = result
    }

    func values(_ section: String, _ key: String) -> [String] {
        entries.filter { $0.section == section && $0.key == key }.map(\.value)
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

extension String {
    /// systemd writes minutes as `min`; heidi's duration parser knows `m`.
    func replacingMinutes() -> String { hasSuffix("min") ? String(dropLast(2)) : self }
}
