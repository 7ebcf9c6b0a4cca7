"""The fleet namespace test (issue 18 item 6), driven by contrib/fleet/netns-test.sh.

One dashboard namespace and three worker namespaces joined by veth pairs; each worker runs its own heidid (the demo
pipeline, many rounds, so its journal keeps growing) and heidi-web dialling the dashboard. Checks, with deadlines:
all workers appear within 5 s; a wrong or revoked token gets 401; a worker pinned to another fingerprint refuses the
dashboard; a worker that does not allow remote actions refuses them (and one that does journals who asked); a worker
whose link is down for 30 s is stale within 15 s and its copy catches up with no gap within 10 s of the link coming
back; a dashboard restart loses nothing; prometheus in the dashboard namespace scrapes every target with up == 1;
finally every copy is byte-identical to its worker's events.jsonl and passes `heidictl journal verify`.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PORT = 7779  # inside private namespaces: nothing else listens there
PROM_PORT = 9090
FAILURES = []


def log(message):
    print(f"fleet-test: {message}", flush=True)


def fail(message):
    FAILURES.append(message)
    print(f"fleet-test: FAIL: {message}", flush=True)


def run(*argv, check=True, ns=None, capture=True):
    command = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
    result = subprocess.run(command, capture_output=capture, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def wait_for(what, seconds, probe, interval=0.2):
    """Polls probe() until it returns a true value; the value, or None after `seconds` (recorded as a failure)."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            fail(f"{what}: not within {seconds} s")
            return None
        time.sleep(interval)


class Fleet:
    def __init__(self, binaries, work):
        self.bin = binaries
        self.work = work
        self.tag = f"hf{os.getpid() % 100000}"
        self.dash_ns = f"{self.tag}-d"
        self.workers = ["w1", "w2", "w3"]
        self.procs = {}
        self.namespaces = []
        self.password = "fleet-test-operator-password-1"
        self.shared = "fleet-test-shared-secret-12345"
        self.tokens = {w: f"token-{w}-{os.urandom(8).hex()}" for w in self.workers + ["w4", "wbad"]}

    # --- topology -------------------------------------------------------------------------------------------------
    def ns(self, worker):
        return f"{self.tag}-{worker}"

    def dash_ip(self, index):
        return f"10.231.{index}.1"

    def worker_ip(self, index):
        return f"10.231.{index}.2"

    def veth(self, index, side):
        return f"{self.tag}{side}{index}"

    def build_network(self):
        for name in [self.dash_ns] + [self.ns(w) for w in self.workers]:
            run("ip", "netns", "add", name)
            self.namespaces.append(name)
            run("ip", "link", "set", "lo", "up", ns=name)
        for index, worker in enumerate(self.workers, start=1):
            d, w = self.veth(index, "d"), self.veth(index, "w")
            run("ip", "link", "add", d, "type", "veth", "peer", "name", w)
            run("ip", "link", "set", d, "netns", self.dash_ns)
            run("ip", "link", "set", w, "netns", self.ns(worker))
            run("ip", "addr", "add", f"{self.dash_ip(index)}/24", "dev", d, ns=self.dash_ns)
            run("ip", "addr", "add", f"{self.worker_ip(index)}/24", "dev", w, ns=self.ns(worker))
            run("ip", "link", "set", d, "up", ns=self.dash_ns)
            run("ip", "link", "set", w, "up", ns=self.ns(worker))

    def link(self, index, up):
        run("ip", "link", "set", self.veth(index, "d"), "up" if up else "down", ns=self.dash_ns)

    # --- files ----------------------------------------------------------------------------------------------------
    def write(self, path, text, mode=0o600):
        with open(path, "w") as handle:
            handle.write(text)
        os.chmod(path, mode)

    def certificates(self):
        w = self.work
        sans = ",".join([f"IP:{self.dash_ip(i)}" for i in range(1, 4)] + ["IP:127.0.0.1", "DNS:localhost"])
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=heidi fleet test CA", "-keyout", f"{w}/ca.key", "-out", f"{w}/ca.pem")
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=dashboard",
            "-keyout", f"{w}/dash.key", "-out", f"{w}/dash.csr")
        self.write(f"{w}/san.ext", f"subjectAltName={sans}\n")
        run("openssl", "x509", "-req", "-in", f"{w}/dash.csr", "-CA", f"{w}/ca.pem", "-CAkey", f"{w}/ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{w}/san.ext", "-out", f"{w}/dash.pem")
        for name in self.workers + ["other"]:
            run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-subj", f"/CN={name}", "-keyout", f"{w}/{name}.key", "-out", f"{w}/{name}.pem")
        self.pin = self.fingerprint(f"{w}/dash.pem")
        self.other_pin = self.fingerprint(f"{w}/other.pem")

    def fingerprint(self, pem):
        return run("openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-sha256").stdout.strip()

    def worker_config(self, worker, index):
        """The demo pipeline with many rounds (a journal that keeps growing), and the worker's web.dashboard."""
        with open(f"{REPO}/config/demo.yaml") as handle:
            text = handle.read()
        text = text.replace("repo_root: ../contrib/demo", f"repo_root: {REPO}/contrib/demo")
        text = text.replace("rounds: 2", "rounds: 1000").replace("autostart: false", "autostart: true")
        text = text.replace("train_steps: 8 ", "train_steps: 4 ")
        trust = f"    ca_file: {self.work}/ca.pem\n" if worker == "w3" else f"    pin_sha256: \"{self.pin.split('=')[1]}\"\n"
        token = "" if worker == "w3" else f"    token_file: {self.work}/{worker}/token\n"
        allow = "true" if worker == "w1" else "false"
        text += (f"\nweb:\n  dashboard:\n    url: https://{self.dash_ip(index)}:{PORT}\n{token}{trust}"
                 f"    name: {worker}\n    allow_actions: {allow}\n    heartbeat: 1\n"
                 f"    journal: {self.work}/{worker}/state/events.jsonl\n")
        return text

    # --- processes ------------------------------------------------------------------------------------------------
    def spawn(self, key, ns, argv, env=None):
        out = open(f"{self.work}/{key}.log", "a")
        environment = {k: v for k, v in os.environ.items() if k not in ("DASHBOARD_HOST", "TELEMETRY_PASS", "HEIDI_CONFIG")}
        environment.update(env or {})
        self.procs[key] = subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdout=out, stderr=subprocess.STDOUT,
                                           env=environment)

    def stop(self, key, sig=signal.SIGTERM):
        proc = self.procs.pop(key, None)
        if proc is None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            fail(f"{key} (pid {proc.pid}) did not exit within 30 s of SIGTERM")
            proc.kill()
            proc.wait()

    def start_dashboard(self):
        self.spawn("dashboard", self.dash_ns, [
            f"{self.bin}/heidi-web", "--config", f"{self.work}/dashboard.yaml", "--listen", f"0.0.0.0:{PORT}",
            "--socket", f"{self.work}/dashboard-no-heidid.sock", "--password-file", f"{self.work}/password",
            "--tls-cert", f"{self.work}/dash.pem", "--tls-key", f"{self.work}/dash.key"],
            env={"TELEMETRY_PASS": self.shared})

    def start_worker(self, worker, index):
        home = f"{self.work}/{worker}"
        os.makedirs(home, exist_ok=True)
        self.write(f"{home}/token", self.tokens[worker] + "\n")
        self.write(f"{home}/heidi.yaml", self.worker_config(worker, index), 0o644)
        sock = f"{home}/heidi.sock"
        self.spawn(f"{worker}-heidid", self.ns(worker), [
            f"{self.bin}/heidid", "--config", f"{home}/heidi.yaml", "--state-dir", f"{home}/state",
            "--runtime-dir", f"{home}/run", "--socket", sock])
        env = {"TELEMETRY_PASS": self.shared} if worker == "w3" else {}
        self.spawn(f"{worker}-web", self.ns(worker), [
            f"{self.bin}/heidi-web", "--config", f"{home}/heidi.yaml", "--socket", sock,
            "--listen", f"{self.worker_ip(index)}:{PORT}", "--password-file", f"{self.work}/password",
            "--tls-cert", f"{self.work}/{worker}.pem", "--tls-key", f"{self.work}/{worker}.key"], env=env)

    # --- the dashboard's API, from inside its namespace -----------------------------------------------------------
    def curl(self, ns, method, url, headers=(), data=None, auth=True):
        argv = ["curl", "-sk", "-o", "-", "-w", "\n%{http_code}", "-X", method, "--max-time", "10"]
        if auth:
            argv += ["-u", f"operator:{self.password}"]
        for header in headers:
            argv += ["-H", header]
        if data is not None:
            argv += ["--data-binary", data]
        result = run(*argv, url, ns=ns, check=False)
        body, _, code = result.stdout.rpartition("\n")
        return int(code or 0), body

    def api(self, path, method="GET"):
        code, body = self.curl(self.dash_ns, method, f"https://127.0.0.1:{PORT}{path}")
        return code, body

    def fleet(self):
        code, body = self.api("/api/v1/fleet")
        if code != 200:
            return {}
        return {w["name"]: w for w in json.loads(body)}

    def copy_path(self, worker):
        return f"{self.work}/fleet/{worker}/events.jsonl"

    def journal_path(self, worker):
        return f"{self.work}/{worker}/state/events.jsonl"

    @staticmethod
    def last_seq(path):
        try:
            with open(path, "rb") as handle:
                handle.seek(max(0, os.path.getsize(path) - 70000))
                lines = [line for line in handle.read().split(b"\n") if line]
            return json.loads(lines[-1])["seq"] if lines else 0
        except (OSError, ValueError, KeyError):
            return 0

    def cleanup(self):
        for key in list(self.procs):
            self.stop(key)
        for name in self.namespaces:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def scenario(fleet):
    work = fleet.work
    fleet.write(f"{work}/password", fleet.password + "\n")
    fleet.write(f"{work}/workers", "".join(f"{w} {fleet.tokens[w]}\n" for w in ["w1", "w2", "w4", "wbad"]))
    fleet.write(f"{work}/dashboard.yaml", f"web:\n  fleet:\n    dir: {work}/fleet\n    workers_file: {work}/workers\n"
                f"    stale_after: 4\n", 0o644)
    fleet.certificates()
    fleet.build_network()
    fleet.start_dashboard()
    if not wait_for("the dashboard listens", 10, lambda: fleet.api("/health")[0] == 200):
        return
    fleet.write(f"{work}/prom-password", fleet.password + "\n")
    targets = ",".join(f"'{fleet.worker_ip(i)}:{PORT}'" for i in range(1, 4))
    fleet.write(f"{work}/prometheus.yml", f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: heidi-fleet-dashboard
    scheme: https
    basic_auth: {{username: viewer, password_file: {work}/prom-password}}
    tls_config: {{ca_file: {work}/ca.pem}}
    static_configs: [{{targets: ['127.0.0.1:{PORT}']}}]
  - job_name: heidi-web
    scheme: https
    basic_auth: {{username: viewer, password_file: {work}/prom-password}}
    tls_config: {{insecure_skip_verify: true}}
    static_configs: [{{targets: [{targets}]}}]
""", 0o644)
    fleet.spawn("prometheus", fleet.dash_ns, [
        "prometheus", f"--config.file={work}/prometheus.yml", f"--storage.tsdb.path={work}/prometheus-data",
        f"--web.listen-address=127.0.0.1:{PROM_PORT}"])
    started = time.monotonic()
    for index, worker in enumerate(fleet.workers, start=1):
        fleet.start_worker(worker, index)
    up = wait_for("all three workers appear, up, on the dashboard (issue 18: within 5 s)", 5,
                  lambda: all(fleet.fleet().get(w, {}).get("up") for w in fleet.workers))
    if up:
        took = time.monotonic() - started
        log(f"all workers up on the dashboard {took:.1f} s after they were started (heidid included)")
        if took > 5 + 3:  # 5 s from heidi-web's start; heidid's start-up comes first
            fail(f"workers appeared after {took:.1f} s (over 5 s)")

    # The fleet page and its script are served, under the CSP that forbids inline script.
    result = run("curl", "-sk", "-D", "-", f"https://127.0.0.1:{PORT}/fleet", ns=fleet.dash_ns, check=False)
    if "script-src 'self'" not in result.stdout or 'src="/fleet.js"' not in result.stdout or "<script>" in result.stdout:
        fail(f"/fleet is not the fleet page under the CSP: {result.stdout[:400]}")

    # A link down for 30 s: stale within 15 s. The other checks run meanwhile.
    wait_for("w2 has shipped events", 20, lambda: fleet.fleet().get("w2", {}).get("copySeq", 0) >= 3)
    fleet.link(2, up=False)
    down_at = time.monotonic()
    log("w2's link is down")

    # Wrong and revoked tokens: 401.
    url = f"https://{fleet.dash_ip(1)}:{PORT}/fleet/v1/heartbeat"
    code, _ = fleet.curl(fleet.ns("w1"), "POST", url, [f"Authorization: Bearer wrong-{fleet.tokens['w1']}"], auth=False)
    if code != 401:
        fail(f"a wrong token got {code}, not 401")
    code, _ = fleet.curl(fleet.ns("w1"), "POST", url, [f"Authorization: Bearer {fleet.tokens['w4']}"], auth=False)
    if code != 200:
        fail(f"w4's token got {code} before it was revoked, not 200")
    fleet.write(f"{work}/workers", "".join(f"{w} {fleet.tokens[w]}\n" for w in ["w1", "w2", "wbad"]))
    code, _ = fleet.curl(fleet.ns("w1"), "POST", url, [f"Authorization: Bearer {fleet.tokens['w4']}"], auth=False)
    if code != 401:
        fail(f"a revoked token got {code}, not 401")
    log("wrong and revoked tokens: 401")

    # A worker pinned to another certificate refuses the dashboard: it never appears there.
    home = f"{work}/wbad"
    os.makedirs(home, exist_ok=True)
    fleet.write(f"{home}/token", fleet.tokens["wbad"] + "\n")
    fleet.write(f"{home}/web.yaml", f"web:\n  dashboard:\n    url: https://{fleet.dash_ip(1)}:{PORT}\n    token_file: {home}/token\n"
                f"    pin_sha256: \"{fleet.other_pin.split('=')[1]}\"\n    journal: {fleet.journal_path('w1')}\n", 0o644)
    fleet.spawn("wbad-web", fleet.ns("w1"), [
        f"{fleet.bin}/heidi-web", "--config", f"{home}/web.yaml", "--socket", f"{work}/w1/heidi.sock", "--listen",
        "127.0.0.1:7790", "--password-file", f"{work}/password"])

    # Actions: refused for w2 and w3 (no allow_actions), done on w1 and journalled there with who and from where.
    code, body = fleet.api("/api/v1/fleet/workers/w3/action/pause", method="POST")
    if code != 403:
        fail(f"an action on w3 (allow_actions off) got {code}: {body}")
    # stop, then start: heidid journals pipeline_start with "(by <who> from <where> ... via fleet dashboard ...)".
    code, body = fleet.api("/api/v1/fleet/workers/w1/action/stop", method="POST")
    if code not in (200, 202):
        fail(f"an action on w1 (allow_actions on) got {code}: {body}")
    wait_for("w1 idle after the stop", 10, lambda: fleet.fleet().get("w1", {}).get("state") == "IDLE")
    code, body = fleet.api("/api/v1/fleet/workers/w1/action/start", method="POST")
    if code not in (200, 202):
        fail(f"start on w1 (allow_actions on) got {code}: {body}")

    def w1_journalled():
        with open(fleet.journal_path("w1"), "rb") as handle:
            return b"via fleet dashboard" in handle.read()
    wait_for("w1's journal records the dashboard's action with who and from where", 5, w1_journalled)
    with open(f"{work}/fleet/fleet-events.jsonl") as handle:
        kinds = [json.loads(line)["kind"] for line in handle if line.strip()]
    if "action" not in kinds or "relay_refused" not in kinds:
        fail(f"the dashboard's fleet log lacks the action or the refusal: {sorted(set(kinds))}")
    code, body = fleet.api("/api/v1/fleet/workers/w3/relay/scalars")
    if code != 200:
        fail(f"w3's curve relayed got {code}: {body[:200]}")
    log("actions: refused where not allowed, journalled on both sides where allowed; reads relayed")

    stale = wait_for("w2 shown stale", 15, lambda: fleet.fleet().get("w2", {}).get("stale"))
    if stale:
        log(f"w2 stale {time.monotonic() - down_at:.1f} s after its link went down")
    if "wbad" in fleet.fleet():
        fail("a worker pinned to another fingerprint reached the dashboard")
    fleet.stop("wbad-web")
    with open(f"{work}/wbad-web.log") as handle:
        text = handle.read()
    if "certificate" not in text.lower() and "handshake" not in text.lower():
        fail(f"the mis-pinned worker's log does not say it refused the certificate: {text[-500:]}")
    log("a worker pinned to another fingerprint refused the dashboard")

    # A dashboard restart while w2 is away: nothing is lost (checked at the end, byte for byte).
    fleet.stop("dashboard")
    time.sleep(1)
    fleet.start_dashboard()
    wait_for("the restarted dashboard listens", 10, lambda: fleet.api("/health")[0] == 200)
    log("dashboard restarted")

    time.sleep(max(0, 30 - (time.monotonic() - down_at)))
    head_at_up = Fleet.last_seq(fleet.journal_path("w2"))
    fleet.link(2, up=True)
    up_at = time.monotonic()
    log(f"w2's link is up after {up_at - down_at:.1f} s; its journal is at seq {head_at_up}")
    caught = wait_for("w2's copy catches up after the link is back", 10,
                      lambda: fleet.fleet().get("w2", {}).get("copySeq", 0) >= head_at_up)
    if caught:
        log(f"w2's copy caught up to seq {head_at_up} in {time.monotonic() - up_at:.1f} s")
    verify = run(f"{fleet.bin}/heidictl", "journal", "verify", fleet.copy_path("w2"), check=False)
    if verify.returncode != 0:
        fail(f"w2's copy does not verify after catching up: {verify.stdout}{verify.stderr}")

    # Prometheus: every target up.
    def all_up():
        code, body = fleet.curl(fleet.dash_ns, "GET", f"http://127.0.0.1:{PROM_PORT}/api/v1/query?query=up", auth=False)
        if code != 200:
            return None
        results = json.loads(body)["data"]["result"]
        return len(results) == 4 and all(r["value"][1] == "1" for r in results) and results
    if wait_for("prometheus scrapes all four targets with up == 1", 20, all_up):
        log("prometheus: up == 1 for the dashboard and the three workers' heidi-web")

    def workers_up():
        code, body = fleet.curl(fleet.dash_ns, "GET", f"http://127.0.0.1:{PROM_PORT}/api/v1/query?query=heidi_fleet_worker_up", auth=False)
        series = json.loads(body)["data"]["result"] if code == 200 else []
        up = sorted(s["metric"].get("worker") for s in series if s["value"][1] == "1")
        return all(w in up for w in fleet.workers)
    if wait_for("prometheus has heidi_fleet_worker_up == 1 for w1, w2 and w3", 10, workers_up):
        log("prometheus: heidi_fleet_worker_up == 1 for every worker")
    # The Grafana dashboard's queries and the alerting rules' expressions run on this Prometheus and find data.
    with open(f"{REPO}/contrib/grafana/heidi-fleet.json") as handle:
        exprs = [t["expr"] for p in json.load(handle)["panels"] for t in p.get("targets", [])]
    for expr in exprs:
        result = run("curl", "-s", "--get", "--data-urlencode", f"query={expr}", f"http://127.0.0.1:{PROM_PORT}/api/v1/query",
                     ns=fleet.dash_ns, check=False)
        try:
            answer = json.loads(result.stdout)
        except ValueError:
            answer = {}
        if answer.get("status") != "success" or not answer.get("data", {}).get("result"):
            fail(f"the Grafana panel query {expr!r} finds nothing: {result.stdout[:300]}")
    log(f"the Grafana dashboard's {len(exprs)} queries all return data")

    # The end: heidid stops on every worker; each copy becomes byte-identical to its journal and verifies.
    for worker in fleet.workers:
        fleet.stop(f"{worker}-heidid")
    for worker in fleet.workers:
        final = Fleet.last_seq(fleet.journal_path(worker))
        if not wait_for(f"{worker}'s copy reaches its final seq {final}", 10,
                        lambda w=worker, f=final: Fleet.last_seq(fleet.copy_path(w)) >= f):
            continue
        with open(fleet.journal_path(worker), "rb") as a, open(fleet.copy_path(worker), "rb") as b:
            if a.read() != b.read():
                fail(f"{worker}'s copy is not byte-identical to its events.jsonl")
        verify = run(f"{fleet.bin}/heidictl", "journal", "verify", fleet.copy_path(worker), check=False)
        if verify.returncode != 0:
            fail(f"{worker}'s copy fails heidictl journal verify: {verify.stdout}{verify.stderr}")
        else:
            log(f"{worker}: copy byte-identical to its journal ({final} events) and verified")
    views = fleet.fleet()
    for worker in fleet.workers:
        if views.get(worker, {}).get("fork") or views.get(worker, {}).get("lagSeq"):
            fail(f"{worker} shows a fork or lag at the end: {views.get(worker)}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="heidi-fleet-test.")
    fleet = Fleet(os.path.abspath(args.bin), work)
    started = time.monotonic()
    try:
        scenario(fleet)
    except Exception as error:  # noqa: BLE001 - any error is a failure with its message
        fail(f"{type(error).__name__}: {error}")
    finally:
        fleet.cleanup()
    log(f"took {time.monotonic() - started:.0f} s")
    if FAILURES:
        log(f"{len(FAILURES)} failure(s); logs kept in {work}")
        for name in sorted(os.listdir(work)):
            if name.endswith(".log"):
                with open(os.path.join(work, name), errors="replace") as handle:
                    tail = handle.read()[-1500:]
                print(f"--- {name} (tail)\n{tail}", flush=True)
        sys.exit(1)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    log("all scenarios passed")


if __name__ == "__main__":
    main()
