import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// The real Slurm cluster SlurmExecutorTests run against (contrib/slurm/cluster.sh; `make slurm-test` starts it and sets
/// `SLURM_CONF`). No cluster is a failure that says how to start one, never a skip.
enum SlurmCluster {
    static var conf: String? { TestEnvironment.inherited["SLURM_CONF"] }
    /// The cluster's directory (the parent of `etc/slurm.conf`), for controller-stop/start.
    static var directory: String? { conf.map { FileSystem.dirname(FileSystem.dirname($0)) } }

    /// Throws unless a cluster answers with both nodes up; with `HEIDI_TEST_SLURM_ACCOUNTING` set (0 or 1), also
    /// unless its accounting is what the run expects.
    static func require() async throws {
        guard let conf, FileSystem.exists(conf) else {
            throw HarnessError(
                "no Slurm cluster: SLURM_CONF is \(conf.map { "\($0), which does not exist" } ?? "not set"); "
                    + "run `make slurm-test`, or `contrib/slurm/cluster.sh start DIR` and export the SLURM_CONF it prints"
            )
        }
        let sinfo = try await run(["sinfo", "--noheader", "--format=%T"])
        let states = Set(sinfo.stdout.split(whereSeparator: \.isNewline).map(String.init))
        guard sinfo.status == 0, !states.isEmpty,
            states.allSatisfy({ ["idle", "mixed", "allocated", "completing"].contains($0) })
        else {
            throw HarnessError(
                "the Slurm cluster of \(conf) is not up (sinfo: \(sinfo)); start it with contrib/slurm/cluster.sh start"
            )
        }
        if let expected = TestEnvironment.inherited["HEIDI_TEST_SLURM_ACCOUNTING"] {
            let config = try await run(["scontrol", "show", "config"])
            let enabled = !config.stdout.contains("accounting_storage/none")
            guard enabled == (expected == "1") else {
                throw HarnessError(
                    "this run expects a cluster \(expected == "1" ? "with" : "without") accounting; \(conf) has it \(enabled ? "on" : "off")"
                )
            }
        }
    }

    static func run(_ argv: [String], timeout: Double = 30) async throws -> ProcessResult {
        guard let program = argv.first.flatMap({ $0.hasPrefix("/") ? $0 : Binaries.onPath($0) }) else {
            throw HarnessError("\(argv.first ?? "?") is not on PATH: install slurm-wlm (make slurm-test-deps)")
        }
        return try await Processes.run(
            [program] + argv.dropFirst(),
            environment: TestEnvironment.make(),
            timeout: timeout
        )
    }

    /// Jobs with this name prefix in squeue (any state Slurm still lists): `id|name|state`.
    static func jobs(namePrefix prefix: String) async throws -> [(id: String, name: String, state: String)] {
        let result = try await run(["squeue", "--noheader", "--states=all", "--Format=JobID:|,Name:|,State:|"])
        return result.stdout.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 3, fields[1].hasPrefix(prefix) else { return nil }
            return (fields[0].trimmingSpaces, fields[1].trimmingSpaces, fields[2].trimmingSpaces)
        }
    }

    /// Jobs of a run that are still queued or running.
    static func activeJobs(run runID: String) async throws -> [(id: String, name: String, state: String)] {
        try await jobs(namePrefix: "heidi.\(runID)").filter {
            ["PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "SUSPENDED"].contains($0.state)
        }
    }

    static func controller(_ action: String) async throws {
        guard let directory else { throw HarnessError("SLURM_CONF not set") }
        let script = FileSystem.dirname(FileSystem.dirname(FileSystem.dirname(#filePath))) + "/contrib/slurm/cluster.sh"
        let result = try await run([script, "controller-\(action)", directory], timeout: 60)
        guard result.status == 0 else { throw HarnessError("cluster.sh controller-\(action): \(result)") }
    }
}

extension String {
    var trimmingSpaces: String { String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
}
