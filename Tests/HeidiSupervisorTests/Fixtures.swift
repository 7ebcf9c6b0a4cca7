/// The fixture zoo: real processes that misbehave the way training stacks do. Each is a `/bin/sh -c` line (Python
/// where the shell cannot do it), used by the tests of the rule it attacks.
enum Fixture {
    /// Prints `count` lines of exactly 70 bytes (`%069d\n`, numbered from 0): `perLine` makes one write(2) per line
    /// like an unbuffered Python script, otherwise 8 KiB writes like `yes`.
    static func spewer(count: Int, perLine: Bool) -> String {
        if perLine {
            return #"python3 -c 'import os"# + "\n" + #"for i in range(\#(count)): os.write(1, b"%069d\n" % i)'"#
        }
        return #"python3 -c 'import os"# + "\n" + #"data = b"".join(b"%069d\n" % i for i in range(\#(count)))"# + "\n"
            + #"for start in range(0, len(data), 8192): os.write(1, data[start:start + 8192])'"#
    }

    /// Ignores SIGTERM, and so do the children it starts (SIG_IGN is inherited): only SIGKILL ends the tree.
    static func termIgnorer(pidFile: String) -> String {
        "trap '' TERM; sh -c 'echo $$ > \(pidFile); exec sleep 60' & sleep 60"
    }

    /// Double fork plus `setsid`: the escaper leaves the stage's session and process group, and its parent dies, so
    /// it is re-parented. With `clearEnvironment` it also drops the stage's environment (`env -i`), so only a cgroup
    /// still knows it belongs to the stage.
    static func setsidEscaper(pidFile: String, clearEnvironment: Bool = false) -> String {
        let launcher = clearEnvironment ? "env -i /usr/bin/setsid" : "setsid"
        return "( \(launcher) /bin/sh -c 'echo $$ > \(pidFile); exec sleep 60' & )"
    }

    /// Closes stdout and stderr, then keeps running quietly.
    static func earlyCloser(seconds: Double, exitCode: Int) -> String {
        "echo before; exec >&- 2>&-; sleep \(seconds); exit \(exitCode)"
    }

    /// One line of `bytes` bytes without any newline.
    static func hugeLine(bytes: Int) -> String { "head -c \(bytes) /dev/zero | tr '\\0' x" }

    /// `yes | head` (yes must die of SIGPIPE, not complain about EPIPE), then the leader itself dies of SIGPIPE.
    static let sigpipeVictim = "yes | head -n 3; kill -PIPE $$"

    /// A real segmentation fault (a NULL read), not a signal sent by hand.
    static let crasher = #"exec python3 -c 'import ctypes; ctypes.string_at(0)'"#

    /// A fork bomb that never gives up (every process keeps forking, and retries when fork fails), run as an
    /// otherwise unused uid so that RLIMIT_NPROC (not enforced for root) is what bounds it.
    static func forkBomb(uid: Int) -> String {
        "exec setpriv --reuid=\(uid) --regid=\(uid) --clear-groups python3 -c '"
            + "import os, time\nwhile True:\n    try: os.fork()\n    except OSError: time.sleep(0.05)\n'"
    }

    /// Opens /dev/null until the descriptor limit stops it; prints how many it got and the errno.
    static let descriptorHog =
        #"python3 -c '"# + "\n" + #"import os"# + "\n" + #"fds = []"# + "\n" + #"while True:"# + "\n"
        + #"    try: fds.append(os.open("/dev/null", os.O_RDONLY))"# + "\n"
        + #"    except OSError as e: print(len(fds), e.errno); break'"#

    /// Starts a child that moves itself into a process group of its own (as job control does), leaving the stage's
    /// group but not its session; the leader exits soon after.
    static func groupChanger(pidFile: String) -> String {
        "python3 -c 'import os, time\nos.setpgid(0, 0)\nopen(\"\(pidFile)\", \"w\").write(str(os.getpid()))\ntime.sleep(60)\n' & sleep 0.5"
    }

    /// Burns `seconds` of CPU in a double-forked orphan the leader never waits for, and writes `done` when finished.
    static func orphanBurner(seconds: Double, done: String) -> String {
        #"( ( python3 -c 'import time"# + "\n" + #"t = time.process_time()"# + "\n"
            + #"while time.process_time() - t < \#(seconds): pass' ; touch \#(done) ) & )"#
    }
}
