#!/usr/bin/env python3
"""`make api-test`: checks the OpenAPI descriptions in docs/openapi/ against running servers with schemathesis, a
property-based API fuzzer: heidid (docs/openapi/heidid.yaml) and, with --heidi-web, heidi-web in front of it over TCP
with a password (docs/openapi/heidi-web.yaml). heidid listens only on a Unix socket, so a small TCP bridge on
127.0.0.1 forwards the fuzzer's connections to it, byte for byte. Every documented response shape, status code, header
and error body must hold, and nothing undocumented may answer (an undocumented method gets 405, an undocumented
path 404, both with the error body).

Left out of the fuzzed copies and checked here instead: the streaming variants (`status?watch=1`, `events?follow=1`,
`logs?follow=1`, heidi-web's `/api/v1/stream`), which never end by themselves, heidi-web's WebSocket upgrade, and
its login and failed-login limit, which the fuzzer's wrong passwords would trip for every later request.

Usage: api-test.py --heidid PATH [--heidi-web PATH] [--schemathesis PATH] [--max-examples N] [--seed N] [--keep]"""
import argparse
import base64
import copy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import jsonschema_rs  # schemathesis's own validator, in the same venv
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPECS = os.path.join(ROOT, "docs", "openapi")
CONFIG = os.path.join(ROOT, "contrib", "api", "heidid-api.yaml")
# A followed log of a stage that has not run yet waits for it, and a run the fuzzer starts paused never runs it.
STREAMING_PARAMETERS = {("/api/v1/status", "get"): "watch", ("/api/v1/events", "get"): "follow",
                        ("/api/v1/logs", "get"): "follow"}
WEB_NOT_FUZZED = ["/api/v1/stream", "/api/v1/login", "/api/v1/ws"]
PASSWORD = "api-test-operator-password-0123456789"


class Bridge:
    """A TCP listener on 127.0.0.1 whose every connection is relayed to a Unix socket, both ways, until either side
    closes (the half-close is passed on, so a request's end and a response's end are seen as they happened)."""

    def __init__(self, unix_path):
        self.unix_path = unix_path
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.unix_path)
            except OSError:
                client.close()
                continue
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pump, args=(source, target), daemon=True).start()

    @staticmethod
    def pump(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.shutdown(socket.SHUT_RD)
                except OSError:
                    pass

    def close(self):
        self.listener.close()


class Server:
    """Where to connect to: a Unix socket path, or a TCP port on 127.0.0.1."""

    def __init__(self, unix_path=None, port=None):
        self.unix_path, self.port = unix_path, port

    def connect(self, timeout):
        if self.unix_path:
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            connection.settimeout(timeout)
            connection.connect(self.unix_path)
        else:
            connection = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return connection

    @property
    def host(self):
        return "localhost" if self.unix_path else f"127.0.0.1:{self.port}"


def request(server, method, target, headers=(), body=b"", read_lines=None, timeout=10):
    """One HTTP/1.1 request with Connection: close: (status, headers, body). With read_lines, only that many lines of
    a (streamed) body are read. Headers are lower-cased; a chunked body is decoded."""
    with server.connect(timeout) as connection:
        head = [f"{method} {target} HTTP/1.1", f"Host: {dict(headers).get('Host', server.host)}", "Connection: close",
                f"Content-Length: {len(body)}"] + [f"{name}: {value}" for name, value in headers if name != "Host"]
        connection.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
        raw_head, _, rest = data.partition(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines[0] else 0
        received = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
        chunked = received.get("transfer-encoding", "").lower() == "chunked"
        while True:
            payload = dechunk(rest) if chunked else rest
            if read_lines is not None and payload.count(b"\n") >= read_lines:
                return status, received, b"\n".join(payload.split(b"\n")[:read_lines])
            chunk = connection.recv(65536)
            if not chunk:
                return status, received, payload
            rest += chunk


def dechunk(data):
    body = b""
    while data:
        size_line, separator, data = data.partition(b"\r\n")
        if not separator:
            break
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        body += data[:size]
        data = data[size + 2:]
    return body


def wait_for(what, check, log, process, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"api-test: {what} exited with {process.returncode}; its log: {log}")
        try:
            result = check()
            if result:
                return result
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"api-test: {what} did not come up within {seconds} s; its log: {log}")


def start_heidid(heidid, work):
    socket_path = os.path.join(work, "heidi.sock")
    log = os.path.join(work, "heidid.log")
    process = subprocess.Popen([heidid, "--config", CONFIG, "--state-dir", os.path.join(work, "state"),
                                "--socket", socket_path, "--log-target", "stderr"],
                               stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    server = Server(unix_path=socket_path)
    wait_for("heidid", lambda: os.path.exists(socket_path) and request(server, "GET", "/api/v1/health")[0] == 200,
             log, process)
    return process, server


def start_heidi_web(heidi_web, work, socket_path):
    password_file = os.path.join(work, "web-password")
    with open(os.open(password_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as file:
        file.write(PASSWORD + "\n")
    log = os.path.join(work, "heidi-web.log")
    process = subprocess.Popen([heidi_web, "--socket", socket_path, "--listen", "127.0.0.1:0",
                                "--password-file", password_file], stdout=open(log, "wb"), stderr=subprocess.STDOUT)

    def port():
        with open(log, errors="replace") as file:
            found = re.search(r"http://127\.0\.0\.1:(\d+)", file.read())
        return int(found.group(1)) if found else None
    server = Server(port=wait_for("heidi-web", port, log, process))
    wait_for("heidi-web's follow of heidid", lambda: json.loads(request(server, "GET", "/health")[2]).get("heidid"),
             log, process)
    return process, server


def stop(process, what, failures):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            failures.append(f"{what} did not exit within 30 s of SIGTERM")
    elif process.returncode != 0:
        failures.append(f"{what} exited during the run with {process.returncode}")


def load(name):
    with open(os.path.join(SPECS, name)) as file:
        return yaml.safe_load(file)


def fuzzed_copies(directory):
    """Both descriptions without the parameters that turn a response into an endless stream, side by side so that
    heidi-web's references to heidid.yaml resolve."""
    for name in ("heidid.yaml", "heidi-web.yaml"):
        spec = load(name)
        for (path, method), parameter in STREAMING_PARAMETERS.items():
            operation = spec["paths"][path][method]
            operation["parameters"] = [p for p in operation.get("parameters", [])
                                       if parameter not in (p.get("name"), p.get("$ref", "").rsplit("/", 1)[-1].lower())]
        with open(os.path.join(directory, name), "w") as file:
            yaml.safe_dump(spec, file, sort_keys=False)


def validator(name, spec_name="heidid.yaml"):
    spec = load("heidid.yaml")
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    if spec_name != "heidid.yaml":
        schema["components"] = load(spec_name)["components"]
    return jsonschema_rs.Draft202012Validator(schema)


def error_body(body, spec_name="heidid.yaml"):
    """What is wrong with an error body (an empty list when it is the error shape)."""
    try:
        return [error.message for error in validator("Error", spec_name).iter_errors(json.loads(body))]
    except ValueError:
        return [f"not JSON: {body[:200]!r}"]


def check_heidid_streams(server):
    """The streaming variants, which the fuzzer cannot wait out: their first documents against the schemas."""
    failures = []
    code, headers, body = request(server, "GET", "/api/v1/status?watch=1", read_lines=1)
    if code != 200 or not headers.get("content-type", "").startswith("application/x-ndjson") or headers.get("x-heidi-api") != "1":
        failures.append(f"GET /api/v1/status?watch=1: {code} {headers}")
    else:
        failures += [f"GET /api/v1/status?watch=1: the first document does not match Status: {error.message}"
                     for error in validator("Status").iter_errors(json.loads(body))]
    code, headers, body = request(server, "GET", "/api/v1/events?after=0&follow=1", read_lines=3)
    lines = body.split(b"\n")
    if code != 200 or len(lines) < 3 or not all(json.loads(line).get("seq") == n + 1 for n, line in enumerate(lines)):
        failures.append(f"GET /api/v1/events?follow=1: expected journal lines with seq 1, 2, 3: {code} {body[:300]!r}")
    deadline = time.monotonic() + 30  # the autostarted run: every stage runs once (eval fails, allowed)
    while time.monotonic() < deadline:
        status = json.loads(request(server, "GET", "/api/v1/status")[2])
        if status["state"] == "IDLE" and status["run_id"] and status["last_warning"]:
            break
        time.sleep(0.1)
    else:
        failures.append(f"the autostarted run did not end within 30 s: {status}")
    code, headers, body = request(server, "GET", "/api/v1/logs?stage=train&round=1&follow=1")
    if code != 200 or b"trained" not in body or "x-heidi-first-line" not in headers:
        failures.append(f"GET /api/v1/logs?stage=train&round=1&follow=1 (the autostarted run's): {code} {headers} {body[:200]!r}")
    for target in ("/api/v1/status?watch=2", "/api/v1/events?follow=maybe", "/api/v1/logs?stage=train&follow=2"):
        code, _, body = request(server, "GET", target)
        if code != 400 or error_body(body):
            failures.append(f"GET {target}: expected 400 with the error body, got {code} {body[:200]!r}")
    return failures


def check_undocumented(server, spec_name, headers=()):
    """Paths the description does not list answer 404 with the error body."""
    failures = []
    documented = set(load(spec_name)["paths"])
    probes = ["/api", "/api/v1", "/api/v1/", "/api/v2/status", "/api/v1/status/", "/api/v1/action/",
              "/api/v1/action/bogus", "/api/v1/action/start/now", "/metrics/", "/API/V1/STATUS", "/%00",
              "/api/v1/status%2F", "/api/v1/logs/train", "/runs/x", "/index.htm", "/.env"]
    probes += [] if "/" in documented else ["/", "/health", "/runs", "/status", "/api/v1/stream", "/api/v1/ws"]
    for path in probes:
        assert path not in documented, path
        for method in ("GET", "POST"):
            code, _, body = request(server, method, path, headers)
            if code != 404 or error_body(body, spec_name):
                failures.append(f"{method} {path} ({spec_name} does not list it): expected 404 with the error body, got {code} {body[:200]!r}")
    return failures


def check_heidi_web(server):
    """What the fuzzer is not given: the event stream, the login and its limit, Host, Origin and method checks."""
    failures = []
    basic = ("Authorization", "Basic " + base64.b64encode(f"operator:{PASSWORD}".encode()).decode())

    def expect(what, code, body, wanted, spec="heidi-web.yaml"):
        if code != wanted or (code >= 400 and error_body(body, spec)):
            failures.append(f"{what}: expected {wanted}{' with the error body' if wanted >= 400 else ''}, got {code} {body[:200]!r}")

    code, headers, body = request(server, "GET", "/api/v1/stream?after=0", [basic], read_lines=4)
    if code != 200 or not headers.get("content-type", "").startswith("text/event-stream") or b"retry: 1000" not in body:
        failures.append(f"GET /api/v1/stream: expected an event stream, got {code} {headers} {body[:200]!r}")
    code, headers, body = request(server, "GET", "/api/v1/stream?after=x", [basic])
    expect("GET /api/v1/stream?after=x", code, body, 400)
    code, headers, body = request(server, "GET", "/api/v1/ws", [basic])
    expect("GET /api/v1/ws without the upgrade", code, body, 400)
    with server.connect(10) as connection:
        connection.sendall(("GET /api/v1/ws HTTP/1.1\r\nHost: " + server.host + "\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                            f"{basic[0]}: {basic[1]}\r\n\r\n").encode())
        answer = connection.recv(4096)
    if not answer.startswith(b"HTTP/1.1 101") or b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" not in answer:
        failures.append(f"GET /api/v1/ws with the upgrade: expected 101 with the accept key, got {answer[:200]!r}")
    spec = load("heidi-web.yaml")
    for path, operations in spec["paths"].items():
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            if method.lower() in operations or (method == "GET" and "get" in operations):
                continue
            code, _, body = request(server, method, path, [basic])
            if code not in (404, 405) or error_body(body, "heidi-web.yaml"):
                failures.append(f"{method} {path} (not documented): expected 404 or 405 with the error body, got {code} {body[:200]!r}")
    code, headers, body = request(server, "GET", "/api/v1/status")
    expect("GET /api/v1/status without credentials", code, body, 401)
    if "www-authenticate" not in headers:
        failures.append("GET /api/v1/status without credentials: no WWW-Authenticate challenge")
    code, headers, body = request(server, "GET", "/api/v1/status", [basic, ("Host", "evil.example")])
    expect("GET /api/v1/status with a foreign Host", code, body, 421)
    code, headers, body = request(server, "DELETE", "/api/v1/status", [basic])
    expect("DELETE /api/v1/status", code, body, 405)
    code, headers, body = request(server, "POST", "/api/v1/action/pause", [basic, ("Origin", "http://evil.example")])
    expect("POST /api/v1/action/pause from a foreign Origin", code, body, 403)
    login = json.dumps({"user": "operator", "password": PASSWORD}).encode()
    code, headers, body = request(server, "POST", "/api/v1/login", [("Content-Type", "application/json")], login)
    session = json.loads(body) if code == 200 else {}
    if code != 200 or "heidi_session=" not in headers.get("set-cookie", "") or \
            list(validator("Session", "heidi-web.yaml").iter_errors(session)):
        failures.append(f"POST /api/v1/login with the password: {code} {headers} {body[:200]!r}")
    code, _, body = request(server, "POST", "/api/v1/login", [("Content-Type", "application/json")], b"{}")
    expect("POST /api/v1/login without a password", code, body, 400)
    wrong = json.dumps({"password": "not-the-password"}).encode()
    for attempt in range(5):
        code, _, body = request(server, "POST", "/api/v1/login", [("Content-Type", "application/json")], wrong)
        expect(f"POST /api/v1/login with a wrong password (attempt {attempt + 1})", code, body, 401)
    code, headers, body = request(server, "POST", "/api/v1/login", [("Content-Type", "application/json")], wrong)
    expect("POST /api/v1/login after 5 failures in a minute", code, body, 429)
    if not headers.get("retry-after", "").isdigit():
        failures.append(f"429 after 5 failed logins: no Retry-After: {headers}")
    return failures


def schemathesis(args, spec, url, work, name, extra=()):
    command = [args.schemathesis, "run", spec, "--url", url, "--checks", "all", "--max-examples", str(args.max_examples),
               "--workers", "1", "--request-timeout", "10", "--suppress-health-check", "all", "--no-color",
               "--report", "junit", "--report-junit-path", os.path.join(work, f"{name}.junit.xml"), *extra]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    print("api-test: " + " ".join(command), flush=True)
    started = time.monotonic()
    result = subprocess.run(command, cwd=work)  # its .schemathesis cache goes there, not into the checkout
    print(f"api-test: schemathesis on {name} took {time.monotonic() - started:.0f} s", flush=True)
    return [] if result.returncode == 0 else [f"schemathesis found responses that do not match docs/openapi/{name}.yaml (exit {result.returncode}; above)"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--heidid", required=True)
    parser.add_argument("--heidi-web")
    parser.add_argument("--schemathesis", default=shutil.which("schemathesis") or "schemathesis")
    parser.add_argument("--max-examples", type=int, default=60)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (state, logs, reports)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="heidi-api-test.")
    specs = os.path.join(work, "spec")
    os.makedirs(specs)
    fuzzed_copies(specs)
    args.schemathesis = os.path.abspath(shutil.which(args.schemathesis) or args.schemathesis)
    failures = []
    heidid, server = start_heidid(os.path.abspath(args.heidid), work)
    bridge = Bridge(server.unix_path)
    web = None
    try:
        failures += check_heidid_streams(server)
        failures += check_undocumented(server, "heidid.yaml")
        failures += schemathesis(args, os.path.join(specs, "heidid.yaml"), f"http://127.0.0.1:{bridge.port}", work, "heidid")
        if args.heidi_web:
            web, web_server = start_heidi_web(os.path.abspath(args.heidi_web), work, server.unix_path)
            basic = ("Authorization", "Basic " + base64.b64encode(f"operator:{PASSWORD}".encode()).decode())
            failures += check_undocumented(web_server, "heidi-web.yaml", [basic])
            excluded = [option for path in WEB_NOT_FUZZED for option in ("--exclude-path", path)]
            failures += schemathesis(args, os.path.join(specs, "heidi-web.yaml"), f"http://127.0.0.1:{web_server.port}",
                                     work, "heidi-web", ["--auth", f"operator:{PASSWORD}", *excluded])
            failures += check_heidi_web(web_server)  # last: it trips the failed-login limit
    finally:
        bridge.close()
        if web:
            stop(web, "heidi-web", failures)
        stop(heidid, "heidid", failures)
        if failures or args.keep:
            print(f"api-test: the state, logs and reports are in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for failure in failures:
        print("FAIL " + failure)
    print("api-test: " + ("FAILED" if failures else "the APIs match their descriptions in docs/openapi/"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
