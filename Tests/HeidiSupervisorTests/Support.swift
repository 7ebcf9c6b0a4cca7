#if canImport(Glibc)
import Glibc
#endif
import HeidiCore
import HeidiSupervisor
import Logging

/// Runs `script` with /bin/sh as a supervised stage and collects its output lines.
final class LineSink: @unchecked Sendable {
    private let lock = NSLockLike()
    private var stored: [OutputLine] = []
    var lines: [OutputLine] { lock.with { stored } }
    func add(_ line: OutputLine) { lock.with { stored.append(line) } }
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

func startStage(_ script: String, timeout: Double = 30, grace: Double = 1, environment: [String: String] = [:],
                sink: LineSink = LineSink()) throws -> RunningStage {
    TreeKiller.becomeSubreaper()
    let env = ChildEnvironment.make(daemon: ["PATH": "/usr/local/bin:/usr/bin:/bin", "NOTIFY_SOCKET": "/run/x", "JOURNAL_STREAM": "1:2"],
                                    stage: environment, heidi: ["HEIDI_STAGE": "test"])
    let spec = LaunchSpec(argv: ["/bin/sh", "-c", script], environment: env, workingDirectory: "/tmp")
    return try RunningStage.start(spec, instanceToken: "t\(UInt64.random(in: 0...UInt64.max))", timeout: timeout, grace: grace,
                                  logger: Logger(label: "test"), onLine: { sink.add($0) })
}

func temporaryPath(_ name: String) -> String {
    "/tmp/heidi-sup-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-\(name)"
}

func readPid(_ path: String, waitingUpTo seconds: Double = 5) -> Int32? {
    let deadline = MonotonicClock.nanoseconds() + UInt64(seconds * 1e9)
    while MonotonicClock.nanoseconds() < deadline {
        if let bytes = try? FileSystem.read(path), let pid = Int32(String(decoding: bytes, as: UTF8.self).split(separator: "\n").first ?? "") {
            return pid
        }
        usleep(10_000)
    }
    return nil
}

/// Alive means present and not a zombie.
func isAlive(_ pid: Int32) -> Bool {
    guard let info = ProcessTable.info(pid) else { return false }
    return !info.isZombie
}
