// Spawning test children the way heidid spawns stages (posix_spawn, no fork in a threaded test process).
import CHeidiShim

#if canImport(Glibc)
import Glibc
#endif

/// posix_spawn for the test harnesses: a new process group, stdin /dev/null, stdout and stderr onto the given
/// descriptors and no other descriptor, an empty signal mask and the usual signals at their default disposition.
public enum TestSpawn {
    /// Spawns `argv` (argv[0] an absolute path) with posix_spawn in a new process group: stdin /dev/null, stdout and
    /// stderr onto the given descriptors, every other descriptor closed, signal mask and the usual dispositions reset.
    public static func spawn(
        _ argv: [String],
        environment: [String: String],
        stdout: Int32,
        stderr: Int32
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        // After the dup2s: every other descriptor is closed in the child, as heidid's own spawn does. Descriptors
        // another suite of this process has open without close-on-exec (NIO's accepted connections) would stay
        // open in the child for its whole life: a control server's close of them then reached no client (the
        // graceful-shutdown test saw every client get its whole answer and then no EOF for 5 s).
        heidi_spawn_file_actions_closefrom(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes,
            Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        )
        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArguments.forEach { free($0) }
            cEnvironment.forEach { free($0) }
        }
        var pid = pid_t()
        let rc = posix_spawn(&pid, argv[0], &actions, &attributes, cArguments, cEnvironment)
        guard rc == 0 else { throw HarnessError("posix_spawn \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }
}
