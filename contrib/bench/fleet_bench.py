"""Fleet benchmarks (issue 18 item 7), run by contrib/bench/fleet-bench.sh on loopback with TLS:

- catch-up: a worker's journal holds a backlog of 100,000 events before its heidi-web starts; how long until the
  dashboard's copy has them all (verified byte for byte and by `heidictl journal verify`);
- live replication: events appended to the worker's journal as fast as this script can write them while the worker
  ships; events/s from the first append until the copy has the last one (verified);
- the dashboard's resident memory (VmRSS) idle, and with 3 and with 50 simulated workers, each sending heartbeats, its
  status and a journal of 2,000 events in batches, as a worker's heidi-web does.
"""

import argparse
import hashlib
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

ZERO = "0" * 64


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JournalWriter:
    """Appends valid heidi v2 journal lines (the hash chain included), ~470 bytes each."""

    def __init__(self, path):
        self.path = path
        self.seq = 0
        self.prev = ZERO
        self.handle = open(path, "ab")

    def lines(self, count):
        out = []
        base = time.time()
        for _ in range(count):
            self.seq += 1
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base)) + ".%06dZ" % (self.seq % 1000000)
            line = ('{"event_version":"2","seq":%d,"ts":"%s","run_id":"run_bench","round":%d,"stage":"train","level":"info",'
                    '"event_type":"stage_end","message":"train finished (exit 0) in 4.2s, pid 4242 (benchmark event %d)",'
                    '"counters_delta":{"output_lines":120},"usage_delta":{"cpu_user_ms":1210,"wall_ms":4213},'
                    '"artifact_paths":["/var/lib/heidi/runs/run_bench/logs/train.log"],"prev_hash":"%s"}\n'
                    % (self.seq, ts, self.seq % 100, self.seq, self.prev)).encode()
            self.prev = hashlib.sha256(line).hexdigest()
            out.append(line)
        return b"".join(out)

    def append(self, count):
        self.handle.write(self.lines(count))
        self.handle.flush()


def last_seq(path):
    try:
        with open(path, "rb") as handle:
            size = os.path.getsize(path)
            handle.seek(max(0, size - 4096))
            tail = [line for line in handle.read().split(b"\n") if line]
        return json.loads(tail[-1])["seq"] if tail else 0
    except (OSError, ValueError, KeyError, IndexError):
        return 0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Bench:
    def __init__(self, web, ctl, work):
        self.web = web
        self.ctl = ctl
        self.work = work
        self.password = "fleet-bench-operator-password"
        self.shared = "fleet-bench-shared-secret-123"
        self.token = "fleet-bench-worker-token-" + os.urandom(6).hex()
        self.procs = []
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                        "-subj", "/CN=dashboard", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", f"{work}/dash.key", "-out", f"{work}/dash.pem"], check=True, capture_output=True)
        self.pin = subprocess.run(["openssl", "x509", "-in", f"{work}/dash.pem", "-noout", "-fingerprint", "-sha256"],
                                  check=True, capture_output=True, text=True).stdout.strip().split("=")[1]
        for name, text in [("password", self.password), ("token", self.token), ("workers", f"bench {self.token}")]:
            with open(f"{work}/{name}", "w") as handle:
                handle.write(text + "\n")
            os.chmod(f"{work}/{name}", 0o600)

    def spawn(self, argv, log, env=None):
        environment = {k: v for k, v in os.environ.items() if k not in ("DASHBOARD_HOST", "TELEMETRY_PASS", "HEIDI_CONFIG")}
        environment.update(env or {})
        proc = subprocess.Popen(argv, stdout=open(f"{self.work}/{log}.log", "a"), stderr=subprocess.STDOUT, env=environment)
        self.procs.append(proc)
        return proc

    def stop(self, proc):
        proc.terminate()
        proc.wait(timeout=30)
        self.procs.remove(proc)

    def dashboard(self, label):
        port = free_port()
        directory = f"{self.work}/{label}-fleet"
        with open(f"{self.work}/{label}-dash.yaml", "w") as handle:
            handle.write(f"web:\n  fleet:\n    dir: {directory}\n    workers_file: {self.work}/workers\n")
        proc = self.spawn([self.web, "--config", f"{self.work}/{label}-dash.yaml", "--listen", f"127.0.0.1:{port}",
                           "--socket", f"{self.work}/none.sock", "--password-file", f"{self.work}/password",
                           "--tls-cert", f"{self.work}/dash.pem", "--tls-key", f"{self.work}/dash.key"],
                          f"{label}-dashboard", env={"TELEMETRY_PASS": self.shared})
        context = ssl._create_unverified_context()
        for _ in range(200):
            try:
                connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=2)
                connection.request("GET", "/health")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        return proc, port, directory

    def worker(self, label, port, journal):
        with open(f"{self.work}/{label}-worker.yaml", "w") as handle:
            handle.write(f"web:\n  dashboard:\n    url: https://127.0.0.1:{port}\n    token_file: {self.work}/token\n"
                         f"    pin_sha256: \"{self.pin}\"\n    journal: {journal}\n")
        return self.spawn([self.web, "--config", f"{self.work}/{label}-worker.yaml", "--listen", f"127.0.0.1:{free_port()}",
                           "--socket", f"{self.work}/none.sock", "--password-file", f"{self.work}/password"], f"{label}-worker")

    def verify(self, journal, copy):
        with open(journal, "rb") as a, open(copy, "rb") as b:
            identical = a.read() == b.read()
        verified = subprocess.run([self.ctl, "journal", "verify", copy], capture_output=True, text=True).returncode == 0
        return identical and verified

    def wait_copy(self, copy, seq, limit=600):
        started = time.monotonic()
        while last_seq(copy) < seq:
            if time.monotonic() - started > limit:
                raise RuntimeError(f"the copy {copy} stopped at seq {last_seq(copy)} of {seq}")
            time.sleep(0.02)
        return time.monotonic()

    def catch_up(self, events):
        journal = f"{self.work}/backlog-events.jsonl"
        writer = JournalWriter(journal)
        for _ in range(events // 10000):
            writer.append(10000)
        dash, port, directory = self.dashboard("backlog")
        started = time.monotonic()
        worker = self.worker("backlog", port, journal)
        done = self.wait_copy(f"{directory}/bench/events.jsonl", events)
        rss = rss_kib(dash.pid)
        ok = self.verify(journal, f"{directory}/bench/events.jsonl")
        self.stop(worker)
        self.stop(dash)
        seconds = done - started
        return {"events": events, "bytes": os.path.getsize(journal), "seconds": round(seconds, 2),
                "events_per_s": round(events / seconds), "verified": ok, "dashboard_rss_kib": rss}

    def live(self, events, chunk=500):
        journal = f"{self.work}/live-events.jsonl"
        writer = JournalWriter(journal)
        writer.append(1)
        dash, port, directory = self.dashboard("live")
        worker = self.worker("live", port, journal)
        copy = f"{directory}/bench/events.jsonl"
        self.wait_copy(copy, 1)
        started = time.monotonic()
        while writer.seq < events + 1:
            writer.append(min(chunk, events + 1 - writer.seq))
        written = time.monotonic()
        done = self.wait_copy(copy, events + 1)
        ok = self.verify(journal, copy)
        self.stop(worker)
        self.stop(dash)
        return {"events": events, "write_seconds": round(written - started, 2), "seconds": round(done - started, 2),
                "events_per_s": round(events / (done - started)), "lag_after_last_write_s": round(done - written, 2), "verified": ok}

    def simulated(self, workers, events=2000, settle=6.0):
        dash, port, directory = self.dashboard(f"sim{workers}")
        idle = rss_kib(dash.pid)
        context = ssl._create_unverified_context()
        errors = []
        status = json.dumps({"state": "TRAINING", "run_id": "run_bench", "round": 3, "rounds": 10, "stage": "train",
                             "child": None, "last_error": None}).encode()

        def worker(index):
            name = f"sim-{index}"
            auth = "Basic " + __import__("base64").b64encode(f"{name}:{self.shared}".encode()).decode()
            journal = JournalWriter(f"{self.work}/sim{workers}-{index}.jsonl")
            body = journal.lines(events)

            def post(path, data=b""):
                connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
                connection.request("POST", path, body=data, headers={"Authorization": auth, "X-Heidi-Worker-Head": str(events)})
                response = connection.getresponse()
                response.read()
                connection.close()
                return response.status

            try:
                post("/fleet/v1/heartbeat")
                post("/fleet/v1/status", status)
                lines = body.split(b"\n")[:-1]
                for start in range(0, len(lines), 500):
                    if post("/fleet/v1/journal", b"\n".join(lines[start:start + 500]) + b"\n") != 200:
                        errors.append(f"{name}: batch refused")
                deadline = time.monotonic() + settle
                while time.monotonic() < deadline:
                    post("/fleet/v1/heartbeat")
                    time.sleep(2)
            except OSError as error:
                errors.append(f"{name}: {error}")

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(1, workers + 1)]
        for thread in threads:
            thread.start()
        peak = 0
        while any(thread.is_alive() for thread in threads):
            peak = max(peak, rss_kib(dash.pid))
            time.sleep(0.1)
        steady = rss_kib(dash.pid)
        copies = sum(1 for i in range(1, workers + 1) if last_seq(f"{directory}/sim-{i}/events.jsonl") == events)
        self.stop(dash)
        return {"workers": workers, "events_each": events, "copies_complete": copies, "errors": errors[:3],
                "rss_idle_kib": idle, "rss_peak_kib": peak, "rss_after_kib": steady}

    def cleanup(self):
        for proc in list(self.procs):
            proc.kill()
            proc.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--web", required=True)
    parser.add_argument("--ctl", required=True)
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--live", type=int, default=100_000)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="heidi-fleet-bench.")
    bench = Bench(args.web, args.ctl, work)
    results = {}
    try:
        results["catch_up"] = bench.catch_up(args.backlog)
        print("catch-up:", json.dumps(results["catch_up"]), flush=True)
        results["live"] = bench.live(args.live)
        print("live:", json.dumps(results["live"]), flush=True)
        for workers in (3, 50):
            results[f"rss_{workers}"] = bench.simulated(workers)
            print(f"dashboard with {workers} simulated workers:", json.dumps(results[f"rss_{workers}"]), flush=True)
    finally:
        bench.cleanup()
    failed = [k for k, v in results.items() if v.get("verified") is False or v.get("copies_complete", v.get("workers")) != v.get("workers")]
    subprocess.run(["rm", "-rf", work])
    if failed:
        print(f"fleet-bench: FAILED: {failed}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
