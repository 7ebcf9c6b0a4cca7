#!/usr/bin/env python3
"""Supervision benchmarks: heidid and supervisord side by side, in one run, on the same machine.

Called by supervision-bench.sh (which builds the release binaries and installs supervisor). Measures:
  1. output capture: throughput of one chatty child and the daemon's CPU per MB, in two shapes
     (8 KiB writes like `yes`; one write() per 70-byte line like an unbuffered Python script), every line checked;
  2. stop: time from the stop request to the whole TERM-ignoring tree gone (1 s grace), and survivors;
  3. idle: the daemon's CPU ticks over 60 s with one quiet running child.
Prints numbers and heidi/supervisord ratios. With a second argument (the built capture-floor.c), the 8 KiB shape
also runs the floor: a C loop that only copies the pipe to the log, i.e. the kernel's part of anyone's capture.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

TICKS = os.sysconf("SC_CLK_TCK")
LINE = 70
BLOCK_LINES = 14_979  # ~1 MiB of numbered lines, written over and over in 8 KiB pieces
# The "text" shape: a training log's progress line, numbered, 69 bytes and a newline. Letters and the trigger word
# "tokens" (as in "tokens/s"), so the redaction pre-check has real work; the numeric shapes do not show that cost.
TEXT_LINE = b"step %09d loss 0.4312 lr 3e-04 tokens/s 51234 elapsed 00:12:31 k"
assert len(TEXT_LINE % 0) == LINE - 1


def line_bytes(shape, index):
    return TEXT_LINE % index if shape == "text" else b"%069d" % index


WRITER = r'''
import os, sys, time
shape, count, stamp = sys.argv[1], int(sys.argv[2]), sys.argv[3]
open(stamp, "w").write(str(time.monotonic_ns()))
template = b"TEXT_LINE" if shape == "text" else b"%069d"
if shape == "line":
    for i in range(count):
        os.write(1, b"%069d\n" % i)
else:
    block = b"".join(template % i + b"\n" for i in range(%d))
    view = memoryview(block * 2)
    offset, left = 0, count * 70
    while left:
        n = os.write(1, view[offset:offset + min(8192, left)])
        offset = (offset + n) %% len(block)
        left -= n
'''.replace("%d", str(BLOCK_LINES)).replace("%%", "%").replace("TEXT_LINE", TEXT_LINE.decode())

TREE = ("trap '' TERM; sh -c 'echo $$ >> {pids}; exec sleep 600' & "
        "setsid sh -c 'echo $$ >> {pids}; exec sleep 600' & echo $$ >> {pids}; sleep 600")


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()  # fields[0] is proc(5)'s field 3 (state)


def cpu_ticks(pid):
    fields = stat_fields(pid)
    return int(fields[11]) + int(fields[12])


def page_faults(pid):
    """Minor and major page faults of the whole process (all its threads), so far."""
    fields = stat_fields(pid)
    return int(fields[7]) + int(fields[9])


class SyscallCounter:
    """Counts the system calls of every thread of `pid` (not its children) with `perf stat` on the raw_syscalls
    tracepoint, in the kernel, without stopping the process on each call as strace does. None where perf or the
    tracepoint is missing (then the bench prints n/a)."""

    def __init__(self, pid, work):
        self.out = tempfile.mktemp(dir=work, prefix="perf.")
        try:
            self.proc = subprocess.Popen(["perf", "stat", "-x", ",", "-o", self.out, "-e", "raw_syscalls:sys_enter",
                                          "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            self.proc = None
        time.sleep(0.05)  # perf attaches

    def stop(self):
        if not self.proc:
            return None
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)
        try:
            for line in open(self.out):
                fields = line.split(",")
                if len(fields) > 2 and fields[2].startswith("raw_syscalls:sys_enter") and fields[0].strip().isdigit():
                    return int(fields[0])
        except OSError:
            pass
        return None


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:  # gone (ENOENT), or gone while being read (ESRCH)
        return False


def wait_until(predicate, timeout, step=0.005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def verify(path, shape, count):
    """Every line present, complete and in order; returns the number of bad lines."""
    bad, index, rest = 0, 0, b""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 22)
            if not chunk:
                break
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                expected = index if shape == "line" else index % BLOCK_LINES
                if line != line_bytes(shape, expected):
                    bad += 1
                index += 1
    return bad + abs(count - index) + (1 if rest else 0)


def cgroup2_mount():
    for line in open("/proc/self/mountinfo"):
        left, _, right = line.partition(" - ")
        if right.split(" ")[0] == "cgroup2":
            return left.split(" ")[4]
    return None


class Heidi:
    name = "heidid"

    def __init__(self, bin_dir, work, cgroup=None):
        self.bin, self.work, self.cgroup = bin_dir, work, cgroup
        if cgroup:
            self.name = "heidid+cgroup"

    def start(self, command, grace="10s"):
        self.dir = tempfile.mkdtemp(dir=self.work, prefix="heidi.")
        self.sock = f"{self.dir}/heidi.sock"
        quoted = command.replace("'", "''")
        with open(f"{self.dir}/heidi.yaml", "w") as f:
            f.write(f"""pipeline: {{mode: collect, rounds: 1}}
limits: {{max_cpu_pct: 100, max_mem_pct: 100}}
journal: {{fsync: never}}
logs: {{journald: false, max_size: 64GiB}}
stage_defaults: {{stop_grace: {grace}, timeout: 1h}}
stages:
  generate: {{command: '{quoted}'}}
  validate: {{command: "true"}}
  train: {{command: "true"}}
  eval: {{command: "true"}}
""")
        env = dict(os.environ, HEIDI_CGROUP=self.cgroup or "off")
        self.proc = subprocess.Popen([f"{self.bin}/heidid", "--config", f"{self.dir}/heidi.yaml", "--state-dir",
                                      f"{self.dir}/state", "--socket", self.sock, "--log-target", "stderr"],
                                     stderr=open(f"{self.dir}/heidid.log", "w"), env=env)
        wait_until(lambda: self.ctl("status").returncode == 0, 10, 0.02)
        self.ctl("start")
        return self.proc.pid

    def ctl(self, *args):
        return subprocess.run([f"{self.bin}/heidictl", "--socket", self.sock, *args], capture_output=True)

    def log(self):
        runs = f"{self.dir}/state/runs"
        run = sorted(os.listdir(runs))[-1] if os.path.isdir(runs) and os.listdir(runs) else "none"
        return f"{runs}/{run}/logs/round-1/generate.log"

    def stop_child(self):
        self.ctl("stop")

    def shutdown(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


class Supervisord:
    name = "supervisord"

    def __init__(self, work):
        self.work = work

    def start(self, command, grace="10s"):
        self.dir = tempfile.mkdtemp(dir=self.work, prefix="supervisord.")
        seconds = int(grace.rstrip("s"))
        with open(f"{self.dir}/supervisord.conf", "w") as f:
            f.write(f"""[unix_http_server]
file={self.dir}/supervisor.sock
[supervisord]
logfile={self.dir}/supervisord.log
pidfile={self.dir}/supervisord.pid
childlogdir={self.dir}
nodaemon=true
loglevel=warn
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://{self.dir}/supervisor.sock
[program:stage]
command=/bin/sh -c "{command.replace('"', chr(92) + '"')}"
autostart=false
autorestart=false
startsecs=0
stopwaitsecs={seconds}
stopasgroup=true
killasgroup=true
stdout_logfile={self.dir}/stage.log
stdout_logfile_maxbytes=0
stderr_logfile={self.dir}/stage.err
stderr_logfile_maxbytes=0
""")
        self.proc = subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", "-c", f"{self.dir}/supervisord.conf"],
                                     stdout=subprocess.DEVNULL, stderr=open(f"{self.dir}/supervisord.stderr", "w"))
        wait_until(lambda: self.ctl("status").returncode in (0, 3), 10, 0.02)
        self.ctl("start", "stage")
        return self.proc.pid

    def ctl(self, *args):
        return subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", f"{self.dir}/supervisord.conf", *args],
                              capture_output=True)

    def log(self):
        return f"{self.dir}/stage.log"

    def stop_child(self):
        self.ctl("stop", "stage")

    def shutdown(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


class Floor:
    """The least any supervisor can do: capture-floor.c copies the pipe to the log file, nothing else."""
    name = "floor"

    def __init__(self, binary, work):
        self.binary, self.work = binary, work

    def start(self, command, grace="10s"):
        self.dir = tempfile.mkdtemp(dir=self.work, prefix="floor.")
        self.proc = subprocess.Popen([self.binary, self.log(), command])
        return self.proc.pid

    def log(self):
        return f"{self.dir}/stage.log"

    def shutdown(self):
        self.proc.wait(timeout=60)


def capture(daemon, shape, count, work):
    stamp = tempfile.mktemp(dir=work, prefix=f"stamp.{daemon.name}.{shape}.")  # the writer creates it when it starts
    writer = f"{work}/writer.py"
    command = f"exec python3 {writer} {shape} {count} {stamp}"
    os.sync()
    pid = daemon.start(command)
    expected = count * LINE
    assert wait_until(lambda: os.path.exists(stamp) and os.path.getsize(stamp) > 0, 30), "writer did not start"
    syscalls = SyscallCounter(pid, work)
    before, faults_before = cpu_ticks(pid), page_faults(pid)
    started = int(open(stamp).read()) / 1e9
    assert wait_until(lambda: os.path.exists(daemon.log()) and os.path.getsize(daemon.log()) >= expected, 600, 0.002), \
        f"{daemon.name}: output incomplete ({os.path.getsize(daemon.log()) if os.path.exists(daemon.log()) else 0} of {expected} bytes)"
    seconds = time.monotonic() - started
    used = (cpu_ticks(pid) - before) / TICKS
    faults = page_faults(pid) - faults_before
    calls = syscalls.stop()
    bad = verify(daemon.log(), shape, count)
    daemon.shutdown()
    subprocess.run(["rm", "-rf", daemon.dir])  # no dirty pages left to write back into the next run
    mb = expected / 1e6
    return {"mb_s": mb / seconds, "cpu_ms_per_mb": used * 1000 / mb, "cpu_pct": 100 * used / seconds, "bad": bad, "mb": mb,
            "faults_per_mb": faults / mb, "syscalls_per_mb": calls / mb if calls is not None else -1.0}


def stop_tree(daemon, work, trial):
    pids_file = f"{work}/tree.{daemon.name}.{trial}"
    daemon.start(TREE.format(pids=pids_file), grace="1s")
    assert wait_until(lambda: os.path.exists(pids_file) and len(open(pids_file).read().split()) >= 3, 10), "tree not up"
    time.sleep(0.2)
    pids = [int(p) for p in open(pids_file).read().split()]
    t0 = time.monotonic()
    daemon.stop_child()
    gone = wait_until(lambda: not any(alive(p) for p in pids), 5, 0.002)
    seconds = time.monotonic() - t0
    survivors = [p for p in pids if alive(p)]
    for p in survivors:
        os.kill(p, signal.SIGKILL)
    daemon.shutdown()
    return seconds if gone else None, len(survivors)


def idle(daemons, seconds):
    pids = [d.start("exec sleep 600") for d in daemons]
    time.sleep(12)  # past the control server's 10 s idle timeout for the connections that started the runs
    before = [cpu_ticks(p) for p in pids]
    time.sleep(seconds)
    after = [cpu_ticks(p) for p in pids]
    for d in daemons:
        d.stop_child()
        d.shutdown()
    return [a - b for a, b in zip(after, before)]


def middle(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "n/a"


def main():
    bin_dir = sys.argv[1]
    block_lines = int(os.environ.get("BLOCK_LINES", 4_000_000))   # 280 MB
    line_lines = int(os.environ.get("LINE_LINES", 2_000_000))     # 140 MB
    trials = int(os.environ.get("STOP_TRIALS", 5))
    repeat = int(os.environ.get("REPEAT", 5))
    idle_seconds = int(os.environ.get("IDLE_SECONDS", 60))
    # Logs go to a tmpfs when there is one, so the disk's writeback does not decide the result for either daemon.
    base = os.environ.get("BENCH_DIR") or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
    work = tempfile.mkdtemp(prefix="heidi-supbench.", dir=base)
    with open(f"{work}/writer.py", "w") as f:
        f.write(WRITER)
    heidi, sup = Heidi(bin_dir, work), Supervisord(work)
    floor = Floor(sys.argv[2], work) if len(sys.argv) > 2 else None

    reporting = "/sys/module/page_reporting/parameters/page_reporting_order"
    if os.path.exists(reporting):
        order = int(open(reporting).read())
        if order <= 10:  # MAX_PAGE_ORDER: a larger order is never reported
            print(f"(free page reporting is on, order {order}: free memory goes back to the host, so a page the kernel hands "
                  "out may cost a host fault on first touch, charged to whoever touches it: CPU per MB swings between runs; "
                  "PAGE_REPORTING_ORDER=11 holds it for the run, see contrib/bench/README.md)")
        else:
            print(f"(free page reporting is held: order {order}, no free memory goes back to the host during the run)")
    print(f"== output capture (one child; daemon CPU per MB; every line verified; medians of {repeat} runs) ==")
    print("(faults/MB: the daemon's page faults per MB captured; syscalls/MB: its system calls per MB, counted by perf on "
          "the raw_syscalls tracepoint, -1 where perf could not attach; both of the run with the median CPU per MB)")
    print(f"{'shape':<22}{'daemon':<13}{'MB':>7}{'MB/s':>9}{'(range)':>12}{'CPU ms/MB':>11}{'CPU %':>8}{'faults/MB':>11}"
          f"{'syscalls/MB':>13}{'bad lines':>11}")
    results = {}
    for shape, count in (("block", block_lines), ("text", block_lines), ("line", line_lines)):
        # Runs alternate between the daemons, and each reports the medians of its runs: on a shared machine the
        # load drifts, and this spreads the drift over both.
        # The floor only in the 8 KiB shape: with one write per line it would read and write per line, which is a
        # choice (supervisord's), not a floor.
        capturers = [heidi, sup] + ([floor] if floor and shape != "line" else [])
        runs = {d.name: [] for d in capturers}
        for _ in range(repeat):
            for daemon in capturers:
                runs[daemon.name].append(capture(daemon, shape, count, work))
        for daemon in capturers:
            mine = runs[daemon.name]
            r = {key: middle([run[key] for run in mine]) for key in ("mb_s", "cpu_ms_per_mb", "cpu_pct", "mb")}
            median_run = sorted(mine, key=lambda run: run["cpu_ms_per_mb"])[len(mine) // 2]
            r["faults_per_mb"], r["syscalls_per_mb"] = median_run["faults_per_mb"], median_run["syscalls_per_mb"]
            r["bad"] = sum(run["bad"] for run in mine)
            r["spread"] = f"{min(run['mb_s'] for run in mine):.0f}-{max(run['mb_s'] for run in mine):.0f}"
            results[(shape, daemon.name)] = r
            label = {"block": "8 KiB writes", "text": "8 KiB text lines", "line": "write() per line"}[shape]
            print(f"{label:<22}{daemon.name:<13}{r['mb']:>7.0f}{r['mb_s']:>9.1f}{r['spread']:>12}{r['cpu_ms_per_mb']:>11.2f}"
                  f"{r['cpu_pct']:>8.1f}{r['faults_per_mb']:>11.2f}{r['syscalls_per_mb']:>13.1f}{r['bad']:>11}")
        h, s = results[(shape, "heidid")], results[(shape, "supervisord")]
        print(f"{'':<22}heidi/sup    throughput {ratio(h['mb_s'], s['mb_s'])}, CPU per MB {ratio(h['cpu_ms_per_mb'], s['cpu_ms_per_mb'])}")
        if floor in capturers:
            f = results[(shape, floor.name)]
            print(f"{'':<22}floor/sup    CPU per MB {ratio(f['cpu_ms_per_mb'], s['cpu_ms_per_mb'])} (what no supervisor can go below); "
                  f"heidi/floor {ratio(h['cpu_ms_per_mb'], f['cpu_ms_per_mb'])}")

    print(f"\n== stop: TERM-ignoring tree with a setsid grandchild, 1 s grace, {trials} trials ==")
    stoppers = [heidi, sup]
    mount = cgroup2_mount()
    scratch = f"{mount}/heidi-bench-{os.getpid()}" if mount else None
    try:
        os.mkdir(scratch)
        stoppers.insert(1, Heidi(bin_dir, work, cgroup=scratch))  # cgroup.kill instead of process scanning
    except (OSError, TypeError):
        print("(no writable cgroup2 here: heidid runs with process groups and the subreaper only)")
    for daemon in stoppers:
        runs = [stop_tree(daemon, work, t) for t in range(trials)]
        times = sorted(t for t, _ in runs if t is not None)
        survivors = sum(s for _, s in runs)
        median = f"{times[len(times) // 2]:.3f} s" if times else "never (tree survived)"
        print(f"{daemon.name:<13} stop→tree gone median {median:<12} trees with survivors: "
              f"{sum(1 for _, s in runs if s)}/{trials} ({survivors} processes)")

    if scratch and os.path.isdir(scratch):
        for entry in os.listdir(scratch):
            if os.path.isdir(f"{scratch}/{entry}"):
                os.rmdir(f"{scratch}/{entry}")
        os.rmdir(scratch)

    print(f"\n== idle: one quiet running child, CPU ticks over {idle_seconds} s (tick = {1000 // TICKS} ms) ==")
    print("(libdispatch, under Swift's concurrency runtime, wakes its worker-pool monitor once a second; heidi code does not)")
    ticks = idle([heidi, sup], idle_seconds)
    print(f"heidid {ticks[0]} ticks, supervisord {ticks[1]} ticks")
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
