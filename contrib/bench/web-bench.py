#!/usr/bin/env python3
"""Measures heidi-web (see web-bench.sh): N SSE clients, start/stop cycles through heidictl, latency from each
journal event's ts to its arrival at every client; then heidi-web's idle RSS, CPU and wake-ups (voluntary context
switches per thread, next to the keep-alives the idle client got: each one is a wake-up with a reason)."""
import argparse, base64, datetime, json, os, socket, statistics, subprocess, threading, time


def proc_stats(pid):
    rss = 0
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    # Per thread, (name, voluntary, involuntary): threads come and go, so deltas are taken over the threads present
    # both times. A voluntary switch is the thread going to sleep, so one per wake-up.
    switches = {}
    for task in os.listdir("/proc/%d/task" % pid):
        fields = dict(line.split(":", 1) for line in open("/proc/%d/task/%s/status" % (pid, task)) if ":" in line)
        switches[task] = (fields["Name"].strip(), int(fields["voluntary_ctxt_switches"]),
                          int(fields["nonvoluntary_ctxt_switches"]))
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, cpu, switches


MEASURE_FROM = [float("inf")]


class Client(threading.Thread):
    def __init__(self, port, auth):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(("GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Basic %s\r\n\r\n"
                           % (port, auth)).encode())
        self.latencies = []
        self.keepalives = 0
        self.ready = threading.Event()

    def run(self):
        buffer = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            now = time.time()
            self.ready.set()
            buffer += data
            while b"\n\n" in buffer:
                message, buffer = buffer.split(b"\n\n", 1)
                for line in message.split(b"\n"):
                    if line.startswith(b":"):
                        self.keepalives += 1
                    if line.startswith(b"data: {\"event_version\""):
                        ts = json.loads(line[6:])["ts"]
                        sent = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
                        if sent.timestamp() >= MEASURE_FROM[0]:  # not the backlog sent on connect
                            self.latencies.append(now - sent.timestamp())


def main():
    parser = argparse.ArgumentParser()
    for name in ("port", "pid", "clients", "cycles", "idle"):
        parser.add_argument("--" + name, type=int, required=True)
    for name in ("password-file", "heidictl", "socket"):
        parser.add_argument("--" + name, required=True)
    args = parser.parse_args()
    auth = base64.b64encode(("operator:" + open(args.password_file).read().strip()).encode()).decode()
    ctl = lambda *words: subprocess.run([args.heidictl, "--socket", args.socket, *words], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)

    time.sleep(1)
    idle_before = proc_stats(args.pid)
    clients = [Client(args.port, auth) for _ in range(args.clients)]
    for client in clients:
        client.start()
    for client in clients:
        client.ready.wait(10)
    connected = proc_stats(args.pid)
    MEASURE_FROM[0] = time.time()
    for _ in range(args.cycles):
        ctl("start")
        time.sleep(0.3)
        ctl("stop", "--wait")
        time.sleep(0.2)
    time.sleep(1)
    latencies = sorted(l for c in clients for l in c.latencies)
    loaded = proc_stats(args.pid)
    for client in clients:
        client.sock.close()
    time.sleep(1)
    # Idle: one SSE client connected, nothing happening.
    idle_client = Client(args.port, auth)
    idle_client.start()
    idle_client.ready.wait(10)
    time.sleep(1)
    start = proc_stats(args.pid)
    keepalives = idle_client.keepalives
    time.sleep(args.idle)
    end = proc_stats(args.pid)
    keepalives = idle_client.keepalives - keepalives
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    print("event-to-client latency, %d SSE clients, %d events received: p50 %.1f ms, p95 %.1f ms, max %.1f ms"
          % (args.clients, len(latencies), p(0.50), p(0.95), latencies[-1] * 1000))
    print("heidi-web RSS: %d KiB before clients, %d KiB with %d clients connected, %d KiB after %d cycles"
          % (idle_before[0], connected[0], args.clients, loaded[0], args.cycles))
    woke = {t: (end[2][t][0], end[2][t][1] - start[2][t][1], end[2][t][2] - start[2][t][2]) for t in end[2] if t in start[2]}
    voluntary = sum(w[1] for w in woke.values())
    print("heidi-web idle over %d s with one SSE client: RSS %d KiB, CPU %.3f s, %d wake-ups (voluntary context "
          "switches; %d involuntary) in %d threads, %d keep-alives sent"
          % (args.idle, end[0], end[1] - start[1], voluntary, sum(w[2] for w in woke.values()), len(end[2]), keepalives))
    print("  wake-ups per thread: " + (", ".join("%s[%s] %d" % (w[0], t, w[1]) for t, w in sorted(woke.items()) if w[1] or w[2])
                                         or "none"))


if __name__ == "__main__":
    main()
