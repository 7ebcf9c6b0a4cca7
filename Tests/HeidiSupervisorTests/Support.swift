import HeidiCore
import HeidiSupervisor
import HeidiTestSupport
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Runs `script` with /bin/sh as a supervised stage and collects its output lines.
final class LineSink: @unchecked Sendable {
    private let lock = NSLockLike()
    private var stored: [OutputLine] = []
    var lines: [OutputLine] { lock.with { stored } }
    func add(_ batch: OutputBatch) { lock.with { stored += batch.lines } }
}

/// A tiny pthread mutex wrapper (tests only).
final class NSLockLike: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    func with<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}

func startStage(
    _ script: String,
    timeout: Double = 30,
    grace: Double = 1,
    environment: [String: String] = [:],
    rlimits: [ResourceLimit] = [],
    cgroups: CgroupDelegation? = nil,
    progress: ProgressChannelSettings? = nil,
    sink: LineSink = LineSink(),
    onOutput: OutputHandler? = nil
) throws -> RunningStage {
    TreeKiller.becomeSubreaper()
    let env = ChildEnvironment.make(
        daemon: ["PATH": "/usr/local/bin:/usr/bin:/bin", "NOTIFY_SOCKET": "/run/x", "JOURNAL_STREAM": "1:2"],
        stage: environment,
        heidi: ["HEIDI_STAGE": "test"]
    )
    let spec = LaunchSpec(
        argv: ["/bin/sh", "-c", script],
        environment: env,
        workingDirectory: "/tmp",
        rlimits: rlimits
    )
    return try RunningStage.start(
        spec,
        instanceToken: "t\(UInt64.random(in: 0...UInt64.max))",
        timeout: timeout,
        grace: grace,
        cgroups: cgroups,
        progress: progress,
        logger: Logger(label: "test"),
        onOutput: onOutput ?? { sink.add($0) }
    )
}

func temporaryPath(_ name: String) -> String { Scratch.path(name) }

/// Alive means present and not a zombie.
func isAlive(_ pid: Int32) -> Bool {
    guard let info = ProcessTable.info(pid) else { return false }
    return !info.isZombie
}

/// Checks that lines arrive complete and in order (`%069d` numbered from 0), without keeping them.
final class SequenceSink: @unchecked Sendable {
    private let lock = NSLockLike()
    private var next = 0
    private var broken: [String] = []
    var count: Int { lock.with { next } }
    var problems: [String] { lock.with { broken } }

    func add(_ batch: OutputBatch) {
        lock.with {
            for line in batch.lines {
                if line.text.utf8.count != 69 || Int(line.text) != next || line.cut {
                    if broken.count < 5 { broken.append("line \(next): \(line.text.prefix(80))") }
                }
                next += 1
            }
        }
    }
}

/// CPU time a thread of this process has used, in nanoseconds (`/proc/self/task/<tid>/schedstat`).
func threadCPUNanoseconds(_ tid: Int32) -> UInt64? {
    guard let bytes = try? FileSystem.read("/proc/self/task/\(tid)/schedstat") else { return nil }
    return String(decoding: bytes, as: UTF8.self).split(separator: " ").first.flatMap { UInt64($0) }
}

/// The uid's live processes.
func processes(ofUID uid: UInt32) -> [Int32] {
    ProcessTable.all().filter { process in
        guard !process.isZombie, let bytes = try? FileSystem.read("/proc/\(process.pid)/status") else { return false }
        let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("Uid:") }
        return line?.split(separator: "\t").dropFirst().first == Substring(String(uid))
    }.map(\.pid)
}
