#!/usr/bin/env python3
"""Load test of heidid's control plane (issue: 1,000 concurrent clients polling status while a stage floods output).

    contrib/bench/control-load.py [--clients 1000] [--requests 20] [--heidid PATH] [--heidictl PATH]

Starts heidid on a temporary state dir with a generate stage that floods stdout, opens CLIENTS concurrent
keep-alive connections that each poll GET /api/v1/status REQUESTS times, and reports: requests answered (every one
must be 200), client-side latency percentiles, the daemon's own p99 from its /metrics histogram, and the flood
stage's captured lines per second with and without the load (the engine must be unaffected).
"""
import argparse, asyncio, os, re, shutil, signal, subprocess, sys, tempfile, time

FLOOD = "import sys\nline = 'x' * 69 + '\\n'\nwhile True:\n    sys.stdout.write(line)\n"


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


async def client(path, count, latencies, failures):
    try:
        reader, writer = await asyncio.open_unix_connection(path)
    except OSError as error:
        failures.append(str(error))
        return
    request = b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n"
    for _ in range(count):
        start = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - start)
        if not head.startswith(b"HTTP/1.1 200"):
            failures.append(head.split(b"\r\n")[0].decode())
    writer.close()


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
    parser.add_argument("--heidid", default=".build/debug/heidid")
    parser.add_argument("--heidictl", default=".build/debug/heidictl")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="heidi-load.")
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

        latencies, failures = [], []
        load_start, load_lines = time.perf_counter(), log_lines(state)

        async def run_all():
            await asyncio.gather(*(client(sock, args.requests, latencies, failures) for _ in range(args.clients)))

        asyncio.run(run_all())
        elapsed = time.perf_counter() - load_start
        loaded_rate = (log_lines(state) - load_lines) / elapsed
        metrics = ctl("status") and subprocess.run(["curl", "-s", "--unix-socket", sock, "http://localhost/metrics"],
                                                   capture_output=True, text=True).stdout
        expected = args.clients * args.requests
        print(f"clients {args.clients} x {args.requests} requests: {len(latencies)}/{expected} answered, "
              f"{len(failures)} failures in {elapsed:.2f}s ({len(latencies) / elapsed:.0f} req/s)")
        if latencies:
            print(f"client-side latency: p50 {percentile(latencies, 0.5) * 1e3:.2f} ms, "
                  f"p99 {percentile(latencies, 0.99) * 1e3:.2f} ms (includes the Python client's event loop)")
        print(f"daemon-side p99 (histogram bucket bound): <= {daemon_p99(metrics) * 1e3:.3f} ms")
        print(f"flood stage captured: {quiet_rate:,.0f} lines/s without load, {loaded_rate:,.0f} lines/s under load "
              f"(ratio {loaded_rate / quiet_rate if quiet_rate else 0:.2f})")
        print("status after the load:", ctl("status").stdout.splitlines()[0])
        ok = len(latencies) == expected and not failures
        sys.exit(0 if ok else 1)
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
