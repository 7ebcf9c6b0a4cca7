#!/usr/bin/env python3
"""`make api-test`: checks docs/openapi/heidid.yaml against a running heidid with schemathesis, a property-based API
fuzzer. heidid listens only on a Unix socket, so a small TCP bridge on 127.0.0.1 forwards the fuzzer's connections to
it, byte for byte. Every documented response shape, status code, header and error body must hold, and nothing
undocumented may answer (an undocumented method must get 405, an undocumented path 404, both with the error body).

The streaming variants (`status?watch=1`, `events?follow=1`), which never end by themselves, are left out of the
fuzzed copy of the description and checked here by reading their first documents against the same schemas.

Usage: api-test.py --heidid PATH [--schemathesis PATH] [--max-examples N] [--seed N]; exit 0 when every check holds."""
import argparse
import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import jsonschema_rs  # schemathesis's own validator, in the same venv
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPEC = os.path.join(ROOT, "docs", "openapi", "heidid.yaml")
CONFIG = os.path.join(ROOT, "contrib", "api", "heidid-api.yaml")
# A followed log of a stage that has not run yet waits for it, and a run the fuzzer starts paused never runs it.
STREAMING_PARAMETERS = {("/api/v1/status", "get"): "watch", ("/api/v1/events", "get"): "follow",
                        ("/api/v1/logs", "get"): "follow"}


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


def start_heidid(heidid, work):
    socket_path = os.path.join(work, "heidi.sock")
    log = open(os.path.join(work, "heidid.log"), "wb")
    process = subprocess.Popen([heidid, "--config", CONFIG, "--state-dir", os.path.join(work, "state"),
                                "--socket", socket_path, "--log-target", "stderr"], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"api-test: heidid exited with {process.returncode}; its log: {log.name}")
        if os.path.exists(socket_path):
            try:
                status, _, body = unix_get(socket_path, "/api/v1/health")
                if status == 200:
                    return process, socket_path
            except OSError:
                pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"api-test: heidid did not become healthy within 30 s; its log: {log.name}")


def unix_get(socket_path, target, read_lines=None, timeout=10):
    """A GET over the Unix socket: (status, headers, body); with read_lines, only that many body lines of a stream."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        connection.connect(socket_path)
        connection.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
        if read_lines is None:
            while chunk := connection.recv(65536):
                rest += chunk
            if headers.get("transfer-encoding") == "chunked":
                rest = dechunk(rest)
            return status, headers, rest
        body = b""
        while body.count(b"\n") < read_lines:
            body = dechunk(rest, partial=True) if headers.get("transfer-encoding") == "chunked" else rest
            if body.count(b"\n") >= read_lines:
                break
            chunk = connection.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, headers, b"\n".join(body.split(b"\n")[:read_lines])


def dechunk(data, partial=False):
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


def fuzzed_copy(spec, directory):
    """The description without the parameters that turn a response into an endless stream."""
    copy_ = copy.deepcopy(spec)
    for (path, method), name in STREAMING_PARAMETERS.items():
        operation = copy_["paths"][path][method]
        operation["parameters"] = [p for p in operation.get("parameters", [])
                                   if resolve(spec, p).get("name") != name]
    path = os.path.join(directory, "heidid-fuzzed.yaml")
    with open(path, "w") as file:
        yaml.safe_dump(copy_, file, sort_keys=False)
    return path


def resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def validator(spec, name):
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    return jsonschema_rs.Draft202012Validator(schema)


def check_streams(spec, socket_path):
    """The streaming variants, which the fuzzer cannot wait out: their first documents against the schemas."""
    failures = []
    status_schema = validator(spec, "Status")
    code, headers, body = unix_get(socket_path, "/api/v1/status?watch=1", read_lines=1)
    if code != 200 or not headers.get("content-type", "").startswith("application/x-ndjson") or headers.get("x-heidi-api") != "1":
        failures.append(f"GET /api/v1/status?watch=1: {code} {headers}")
    else:
        for error in status_schema.iter_errors(json.loads(body)):
            failures.append(f"GET /api/v1/status?watch=1: the first document does not match Status: {error.message}")
    code, headers, body = unix_get(socket_path, "/api/v1/events?after=0&follow=1", read_lines=3)
    if code != 200 or not headers.get("content-type", "").startswith("application/x-ndjson"):
        failures.append(f"GET /api/v1/events?follow=1: {code} {headers}")
    else:
        lines = body.split(b"\n")
        if len(lines) < 3 or not all(json.loads(line).get("seq") == index + 1 for index, line in enumerate(lines)):
            failures.append(f"GET /api/v1/events?follow=1: expected journal lines with seq 1, 2, 3: {body[:300]!r}")
    deadline = time.monotonic() + 30  # the autostarted run: every stage runs once (eval fails, allowed)
    while time.monotonic() < deadline:
        code, _, body = unix_get(socket_path, "/api/v1/status")
        status = json.loads(body)
        if status["state"] == "IDLE" and status["run_id"] and status["last_warning"]:
            break
        time.sleep(0.1)
    else:
        failures.append(f"the autostarted run did not end within 30 s: {status}")
    code, headers, body = unix_get(socket_path, "/api/v1/logs?stage=train&round=1&follow=1")
    if code != 200 or b"trained" not in body or "x-heidi-first-line" not in headers:
        failures.append(f"GET /api/v1/logs?stage=train&round=1&follow=1 (the autostarted run's): {code} {headers} {body[:200]!r}")
    for target in ("/api/v1/status?watch=2", "/api/v1/events?follow=maybe", "/api/v1/logs?stage=train&follow=2"):
        code, headers, body = unix_get(socket_path, target)
        errors = list(validator(spec, "Error").iter_errors(json.loads(body))) if body else ["no body"]
        if code != 400 or errors:
            failures.append(f"GET {target}: expected 400 with the error body, got {code} {body[:200]!r}")
    return failures


def check_undocumented(spec, socket_path):
    """Paths the description does not list answer 404 with the error body, whatever the method."""
    failures = []
    error_schema = validator(spec, "Error")
    documented = set(spec["paths"])
    probes = ["/", "/api", "/api/v1", "/api/v1/", "/api/v2/status", "/api/v1/status/", "/api/v1/action/",
              "/api/v1/action/bogus", "/api/v1/action/start/now", "/metrics/", "/health", "/API/V1/STATUS", "/%00",
              "/api/v1/status%2F", "/api/v1/logs/train", "/runs", "/api/v1/stream", "/api/v1/ws"]
    for path in probes:
        assert path.split("?")[0] not in documented, path
        for method in ("GET", "POST"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(10)
                connection.connect(socket_path)
                connection.sendall(f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
                data = b""
                while chunk := connection.recv(65536):
                    data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            status = int(head.split()[1]) if head else 0
            try:
                errors = list(error_schema.iter_errors(json.loads(body)))
            except ValueError:
                errors = ["not JSON"]
            if status not in (404, 400) or errors:
                failures.append(f"{method} {path} (undocumented): expected 404 with the error body, got {status} {body[:200]!r}")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--heidid", required=True)
    parser.add_argument("--schemathesis", default=shutil.which("schemathesis") or "schemathesis")
    parser.add_argument("--max-examples", type=int, default=60)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (state, logs, reports)")
    args = parser.parse_args()
    with open(SPEC) as file:
        spec = yaml.safe_load(file)
    work = tempfile.mkdtemp(prefix="heidi-api-test.")
    process, socket_path = start_heidid(os.path.abspath(args.heidid), work)
    bridge = Bridge(socket_path)
    failures = []
    try:
        failures += check_streams(spec, socket_path)
        failures += check_undocumented(spec, socket_path)
        command = [args.schemathesis, "run", fuzzed_copy(spec, work), "--url", f"http://127.0.0.1:{bridge.port}",
                   "--checks", "all", "--max-examples", str(args.max_examples), "--workers", "1",
                   "--request-timeout", "10", "--report", "junit", "--report-dir", os.path.join(work, "report"),
                   "--suppress-health-check", "all", "--no-color"]
        if args.seed is not None:
            command += ["--seed", str(args.seed)]
        print("api-test: " + " ".join(command), flush=True)
        fuzz = subprocess.run(command, cwd=work)  # its .schemathesis cache goes there, not into the checkout
        if fuzz.returncode != 0:
            failures.append(f"schemathesis found responses that do not match docs/openapi/heidid.yaml (exit {fuzz.returncode}; above)")
        if process.poll() is not None:
            failures.append(f"heidid exited during the run with {process.returncode}")
    finally:
        bridge.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                failures.append("heidid did not exit within 30 s of SIGTERM")
        if failures or args.keep:
            print(f"api-test: heidid's state, log and the reports are in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for failure in failures:
        print("FAIL " + failure)
    print("api-test: " + ("FAILED" if failures else "the heidid API matches docs/openapi/heidid.yaml"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
