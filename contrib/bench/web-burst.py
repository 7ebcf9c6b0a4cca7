#!/usr/bin/env python3
"""The burst part of web-bench.sh: heidid runs a mocked pipeline (HEIDI_MOCK_SUBPROCESSES=1: stages succeed at
once, so the engine writes journal events as fast as it steps) of ROUNDS rounds, once with no SSE client on
heidi-web and once with N clients reading every event. Prints the engine's time per journal event (its step time,
from the journal's own `ts`: the run's span over its events, and the median gap between consecutive events, which
other load on the machine moves least) both ways and their ratios, heidi-web's peak RSS, and whether every client
got every event."""
import argparse, base64, datetime, json, os, socket, subprocess, threading, time


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Client(threading.Thread):
    """An SSE client that follows journal events (`id:` lines) after `after`, reconnecting with the last id it saw
    when heidi-web drops it for falling behind (as a browser does); cheap, so 100 of them leave the CPU to heidid and
    heidi-web. `last` is the last seq received, `drops` the reconnects."""
    def __init__(self, port, auth, after):
        super().__init__(daemon=True)
        self.port, self.auth, self.last, self.drops = port, auth, after, -1
        self.stop = False

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.sendall(("GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Basic %s\r\nLast-Event-ID: %d\r\n\r\n"
                      % (self.port, self.auth, self.last)).encode())
        self.drops += 1
        return sock

    def run(self):
        sock, tail = self.connect(), b""
        while not self.stop:
            try:
                data = sock.recv(262144)
            except OSError:
                data = b""
            if not data:
                sock.close()
                time.sleep(0.2)
                sock, tail = self.connect(), b""
                continue
            joined = tail + data
            at = joined.rfind(b"\nid: ")
            if at >= 0:
                end = joined.find(b"\n", at + 5)
                if end >= 0:
                    self.last = max(self.last, int(joined[at + 5:end]))
            tail = joined[-40:]


def status(heidictl, sock):
    out = subprocess.run([heidictl, "--socket", sock, "status", "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def head(heidictl, sock):
    return int(status(heidictl, sock)["journal"]["seq"])


def step_times(journal, after, until):
    """heidid's own timing of the events after..until (seq): (span per event, median gap, p95 gap) in seconds, from
    each event's `ts` as the engine wrote it (wall time of the engine, not of this script)."""
    stamps = []
    with open(journal) as lines:
        for line in lines:
            event = json.loads(line)
            if after < event["seq"] <= until:
                stamps.append(datetime.datetime.strptime(event["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp())
    gaps = sorted(b - a for a, b in zip(stamps, stamps[1:]))
    return (stamps[-1] - stamps[0]) / len(gaps), gaps[len(gaps) // 2], gaps[len(gaps) * 95 // 100]


def burst(heidictl, sock, rounds, web, daemon):
    """Runs the burst; returns (seq before, events, wall seconds, heidi-web's peak RSS, CPU seconds of heidid,
    heidi-web and this script (the SSE clients) during it)."""
    before = head(heidictl, sock)
    cpu = (cpu_seconds(daemon), cpu_seconds(web), sum(os.times()[:2]))
    peak = [rss_kib(web)]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(web))
            time.sleep(0.05)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    subprocess.run([heidictl, "--socket", sock, "start", "--mode", "full", "--rounds", str(rounds)], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([heidictl, "--socket", sock, "wait"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    done.set()
    sampler.join()
    used = (cpu_seconds(daemon) - cpu[0], cpu_seconds(web) - cpu[1], sum(os.times()[:2]) - cpu[2])
    return before, head(heidictl, sock) - before, elapsed, peak[0], used


def main():
    parser = argparse.ArgumentParser()
    for name in ("port", "pid", "daemon-pid", "clients", "rounds"):
        parser.add_argument("--" + name, type=int, required=True)
    for name in ("password-file", "heidictl", "socket"):
        parser.add_argument("--" + name, required=True)
    args = parser.parse_args()
    auth = base64.b64encode(("operator:" + open(args.password_file).read().strip()).encode()).decode()

    journal = status(args.heidictl, args.socket)["journal"]["path"]
    start, events, alone, rss_alone, cpu_alone = burst(args.heidictl, args.socket, args.rounds, args.pid, args.daemon_pid)
    span, median, p95 = step_times(journal, start, start + events)
    print("burst without clients: %d events in %.2f s (%.1f us per event), heidi-web RSS peak %.1f MiB"
          % (events, alone, alone / events * 1e6, rss_alone / 1024), flush=True)
    print("  heidid's journal: %.1f us per event over the run, gap between events median %.1f us, p95 %.1f us"
          % (span * 1e6, median * 1e6, p95 * 1e6), flush=True)
    print("  CPU during it: heidid %.2f s, heidi-web %.2f s, the clients %.2f s (%.1f us of heidid per event)"
          % (cpu_alone + (cpu_alone[0] / events * 1e6,)), flush=True)

    after = head(args.heidictl, args.socket)
    clients = [Client(args.port, auth, after) for _ in range(args.clients)]
    for client in clients:
        client.start()
    time.sleep(1)
    start2, events2, loaded, rss_loaded, cpu_loaded = burst(args.heidictl, args.socket, args.rounds, args.pid, args.daemon_pid)
    burst_end = time.monotonic()
    span2, median2, p952 = step_times(journal, start2, start2 + events2)
    reached = sorted(c.last - after for c in clients)
    deadline = burst_end + 120
    caught_up = None
    while time.monotonic() < deadline and min(c.last for c in clients) < after + events2:
        time.sleep(0.1)
    if min(c.last for c in clients) >= after + events2:
        caught_up = time.monotonic()
    print("burst with %d SSE clients: %d events in %.2f s (%.1f us per event), heidi-web RSS peak %.1f MiB"
          % (args.clients, events2, loaded, loaded / events2 * 1e6, rss_loaded / 1024), flush=True)
    print("  heidid's journal: %.1f us per event over the run, gap between events median %.1f us, p95 %.1f us"
          % (span2 * 1e6, median2 * 1e6, p952 * 1e6), flush=True)
    print("  CPU during it: heidid %.2f s, heidi-web %.2f s, the clients %.2f s (%.1f us of heidid per event)"
          % (cpu_loaded + (cpu_loaded[0] / events2 * 1e6,)), flush=True)
    print("engine time per event, with / without clients: %.2fx wall, %.2fx journal span, %.2fx median gap"
          % ((loaded / events2) / (alone / events), span2 / span, median2 / median), flush=True)
    drops = [c.drops for c in clients]
    lasts = sorted(c.last - after for c in clients)
    print("events each client had when the burst ended: min %d, median %d of %d; all %d: %s"
          % (reached[0], reached[len(reached) // 2], events2, events2,
             "after %.1f s more" % (caught_up - burst_end) if caught_up else "NO (min %d after 120 s)" % lasts[0]), flush=True)
    print("every client reached the last event: %s; clients dropped for falling behind and resumed by seq: %d of %d"
          " (%d drops in all)" % ("yes" if caught_up else "NO", sum(1 for d in drops if d), len(drops), sum(drops)), flush=True)
    for client in clients:
        client.stop = True


if __name__ == "__main__":
    main()
