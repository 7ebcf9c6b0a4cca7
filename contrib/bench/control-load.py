#!/usr/bin/env python3
"""Load test of heidid's control plane (issue: 1,000 concurrent clients polling status while a stage floods output).

    contrib/bench/control-load.py [--clients 1000] [--requests 20] [--interval-ms 0] [--heidid PATH] [--heidictl PATH]

Starts heidid on a temporary state dir with a generate stage that floods stdout, opens CLIENTS concurrent
keep-alive connections that each poll GET /api/v1/status REQUESTS times (back to back, or INTERVAL ms after each
answer), and reports: requests answered (every one
must be 200), client-side latency percentiles, the daemon's own p99 from its /metrics histogram, and the flood
stage's captured lines per second with and without the load (the engine must be unaffected).

The clients are `bench load` (contrib/bench/bench.c: one thread, epoll), so the load generator takes little CPU
from the machine the daemon and the flood share.
"""
import argparse, os, re, resource, shutil, signal, subprocess, sys, tempfile, time

FLOOD = "import sys\nline = 'x' * 69 + '\\n'\nwhile True:\n    sys.stdout.write(line)\n"
HERE = os.path.dirname(os.path.abspath(__file__))


def daemon_p99(metrics):
    buckets = [(float(le), int(v)) for le, v in re.findall(r'heidi_control_request_duration_seconds_bucket\{le="([0-9.e-]+)"\} (\d+)', metrics)]
    total = int(re.search(r"heidi_control_request_duration_seconds_count (\d+)", metrics).group(1))
    for bound, cumulative in buckets:
        if cumulative >= total * 0.99:
            return bound
    return float("inf")


def log_lines(state):
    runs = os.path.join(state, "runs")
    total = 0
    for root, _, files in os.walk(runs):
        for name in files:
            if name.startswith("generate.log"):
                with open(os.path.join(root, name), "rb") as f:
                    total += sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--interval-ms", type=float, default=0, help="pause after each answer (0: back to back)")
    parser.add_argument("--heidid", default=".build/debug/heidid")
    parser.add_argument("--heidictl", default=".build/debug/heidictl")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="heidi-load.")
    probe = os.path.join(work, "bench")
    subprocess.run(["cc", "-O2", "-o", probe, os.path.join(HERE, "bench.c")], check=True)
    request = os.path.join(work, "status.http")
    with open(request, "w") as f:
        f.write("GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.clients + 64)), hard))
    sock, state = os.path.join(work, "heidi.sock"), os.path.join(work, "state")
    flood = os.path.join(work, "flood.py")
    with open(flood, "w") as f:
        f.write(FLOOD)
    with open(os.path.join(work, "heidi.yaml"), "w") as f:
        f.write("pipeline: {mode: collect, rounds: 1}\nlogs: {journald: false, max_size: 1GiB}\nstages:\n"
                f"  generate: {{command: [python3, {flood}]}}\n  validate: {{command: [\"true\"]}}\n"
                "  train: {command: [\"true\"]}\n  eval: {command: [\"true\"]}\n")
    daemon = subprocess.Popen([args.heidid, "--config", os.path.join(work, "heidi.yaml"), "--state-dir", state,
                               "--socket", sock], stderr=open(os.path.join(work, "heidid.log"), "w"))
    ctl = lambda *a: subprocess.run([args.heidictl, "--socket", sock, *a], capture_output=True, text=True)
    try:
        for _ in range(100):
            if ctl("status").returncode == 0:
                break
            time.sleep(0.05)
        ctl("start")
        time.sleep(1.0)
        base_start, base_lines = time.perf_counter(), log_lines(state)
        time.sleep(2.0)
        quiet_rate = (log_lines(state) - base_lines) / (time.perf_counter() - base_start)

        load_start, load_lines = time.perf_counter(), log_lines(state)
        load = subprocess.run([probe, "load", sock, request, str(args.clients), str(args.requests), str(args.interval_ms)],
                              capture_output=True, text=True)
        elapsed = time.perf_counter() - load_start
        loaded_rate = (log_lines(state) - load_lines) / elapsed
        metrics = subprocess.run(["curl", "-s", "--unix-socket", sock, "http://localhost/metrics"],
                                 capture_output=True, text=True).stdout
        print(f"clients {args.clients} x {args.requests} requests: {load.stdout.strip()}{load.stderr.strip()}")
        print(f"daemon-side p99 (histogram bucket bound): <= {daemon_p99(metrics) * 1e3:.3f} ms")
        print(f"flood stage captured: {quiet_rate:,.0f} lines/s without load, {loaded_rate:,.0f} lines/s under load "
              f"(ratio {loaded_rate / quiet_rate if quiet_rate else 0:.2f})")
        print("status after the load:", ctl("status").stdout.splitlines()[0])
        sys.exit(load.returncode)
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
