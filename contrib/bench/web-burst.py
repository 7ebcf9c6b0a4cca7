#!/usr/bin/env python3
"""The burst part of web-bench.sh: heidid runs a mocked pipeline (HEIDI_MOCK_SUBPROCESSES=1: stages succeed at
once, so the engine writes journal events as fast as it steps) of ROUNDS rounds, once with no SSE client on
heidi-web and once with N clients reading every event. Prints the engine's time per journal event (its step time)
both ways and their ratio, heidi-web's peak RSS, and whether every client got every event."""
import argparse, base64, json, os, socket, subprocess, threading, time


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


def head(heidictl, sock):
    out = subprocess.run([heidictl, "--socket", sock, "status", "--json"], check=True, capture_output=True, text=True).stdout
    return int(json.loads(out)["journal"]["seq"])


def burst(heidictl, sock, rounds, web):
    before = head(heidictl, sock)
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
    return before, head(heidictl, sock) - before, elapsed, peak[0]


def main():
    parser = argparse.ArgumentParser()
    for name in ("port", "pid", "clients", "rounds"):
        parser.add_argument("--" + name, type=int, required=True)
    for name in ("password-file", "heidictl", "socket"):
        parser.add_argument("--" + name, required=True)
    args = parser.parse_args()
    auth = base64.b64encode(("operator:" + open(args.password_file).read().strip()).encode()).decode()

    _, events, alone, rss_alone = burst(args.heidictl, args.socket, args.rounds, args.pid)
    print("burst without clients: %d events in %.2f s (%.1f us per event), heidi-web RSS peak %.1f MiB"
          % (events, alone, alone / events * 1e6, rss_alone / 1024), flush=True)

    after = head(args.heidictl, args.socket)
    clients = [Client(args.port, auth, after) for _ in range(args.clients)]
    for client in clients:
        client.start()
    time.sleep(1)
    _, events2, loaded, rss_loaded = burst(args.heidictl, args.socket, args.rounds, args.pid)
    burst_end = time.monotonic()
    reached = sorted(c.last - after for c in clients)
    deadline = burst_end + 120
    caught_up = None
    while time.monotonic() < deadline and min(c.last for c in clients) < after + events2:
        time.sleep(0.1)
    if min(c.last for c in clients) >= after + events2:
        caught_up = time.monotonic()
    print("burst with %d SSE clients: %d events in %.2f s (%.1f us per event), heidi-web RSS peak %.1f MiB"
          % (args.clients, events2, loaded, loaded / events2 * 1e6, rss_loaded / 1024), flush=True)
    print("engine time per event, with / without clients: %.2fx" % ((loaded / events2) / (alone / events)), flush=True)
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
