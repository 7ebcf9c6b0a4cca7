"""Fixtures: real heidid daemons on temporary directories (the binaries of `swift build`, or $HEIDID/$HEIDICTL)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import heidi

REPO = Path(__file__).resolve().parents[3]


def binary(name: str) -> str:
    path = os.environ.get(name.upper().replace("-", "_")) or str(REPO / ".build" / "debug" / name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{name} not found at {path}: run `swift build` or set ${name.upper()}")  # never a silent skip
    return path


@pytest.fixture(scope="session")
def heidid_bin() -> str:
    return binary("heidid")


@pytest.fixture(scope="session")
def heidictl_bin() -> str:
    return binary("heidictl")


class ManagedProcess:
    """A heidi program the tests start, wait for until its health check answers, and stop with SIGTERM."""

    name = "program"
    poll_interval = 0.02
    stop_timeout = 30.0
    process: subprocess.Popen[bytes] | None
    log: Path

    def command(self) -> tuple[list[str], dict[str, str]]:
        """The argv and environment to start it with."""
        raise NotImplementedError

    def healthy(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        argv, env = self.command()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(argv, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if self.healthy():
                    return
            except heidi.NotRunning:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name} not ready after 15 s: {self.log.read_text()[-2000:]}")
            time.sleep(self.poll_interval)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class Daemon(ManagedProcess):
    """One heidid on its own state and runtime directories; restartable on the same state directory."""

    name = "heidid"

    def __init__(self, heidid: str, root: Path, env: dict[str, str], config: str | None, args: list[str]) -> None:
        self.heidid = heidid
        self.root = root
        self.state_dir = root / "state"
        self.runtime_dir = root / "run"
        self.socket = str(self.runtime_dir / "heidi.sock")
        self.env = {k: v for k, v in os.environ.items() if k not in ("HEIDI_SOCKET", "HEIDI_CONFIG")}
        self.env.update(env)
        self.config = config
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None
        self.log = root / "heidid.log"

    @property
    def journal(self) -> Path:
        return self.state_dir / "events.jsonl"

    def client(self) -> heidi.Client:
        return heidi.Client(self.socket)

    def command(self) -> tuple[list[str], dict[str, str]]:
        argv = [self.heidid, "--state-dir", str(self.state_dir), "--runtime-dir", str(self.runtime_dir),
                "--socket", self.socket, "--log-target", "stderr", *self.args]
        if self.config is not None:
            path = self.root / "heidi.yaml"
            path.write_text(self.config)
            argv += ["--config", str(path)]
        return argv, self.env

    def healthy(self) -> bool:
        return self.client().health()


class DaemonFactory:
    def __init__(self, heidid: str) -> None:
        self.heidid = heidid
        self.daemons: list[Daemon] = []

    def __call__(self, *, mock: bool = True, config: str | None = None, env: dict[str, str] | None = None,
                 args: list[str] | None = None, start: bool = True) -> Daemon:
        # Short paths: a Unix socket path has at most 107 bytes.
        root = Path(tempfile.mkdtemp(prefix="hpy-"))
        os.chmod(root, 0o755)
        full_env = {"HEIDI_MOCK_SUBPROCESSES": "1" if mock else "0", "MAX_CPU_PCT": "100", "MAX_MEM_PCT": "100"}
        full_env.update(env or {})
        daemon = Daemon(self.heidid, root, full_env, config, args or [])
        self.daemons.append(daemon)
        if start:
            daemon.start()
        return daemon

    def cleanup(self) -> None:
        for daemon in self.daemons:
            daemon.stop()
            shutil.rmtree(daemon.root, ignore_errors=True)


@pytest.fixture
def daemons(heidid_bin: str) -> Iterator[DaemonFactory]:
    factory = DaemonFactory(heidid_bin)
    yield factory
    factory.cleanup()


@pytest.fixture
def daemon(daemons: DaemonFactory) -> Daemon:
    """A mock-mode heidid (stages succeed at once without spawning)."""
    return daemons()


def stage_config(generate: str = "echo gen-1; echo gen-2", validate: str = "echo ok", test: str = "echo ok",
                 train: str = "echo train", eval: str = "echo eval") -> str:
    """A config whose stages are small shell commands."""
    def stage(script: str) -> str:
        return "{command: [sh, -c, " + json.dumps(script) + "]}"
    return (
        "pipeline: {mode: full, rounds: 1}\n"
        "stage_defaults: {stop_grace: 1s}\n"
        "stages:\n"
        f"  generate: {stage(generate)}\n"
        f"  validate: {stage(validate)}\n"
        f"  test: {stage(test)}\n"
        f"  train: {stage(train)}\n"
        f"  eval: {stage(eval)}\n"
    )


# The ported legacy suites (tests/legacy): each test gets a clean environment and its own OUT_DIR (the original
# mutated os.environ globally and rewrote scripts/ in the working tree, so results depended on order).
ENGINE_VARS = ("HEIDI_MOCK_SUBPROCESSES", "ROUNDS", "RUN_UNIT_TESTS", "RUN_ID", "OUT_DIR", "HEIDI_STATE_DIR",
               "HEIDI_REPO_ROOT", "MAX_CPU_PCT", "MAX_MEM_PCT", "MAX_WALL_TIME_MINUTES", "PIPELINE_MODE",
               "HEIDI_CONFIG", "HEIDI_SOCKET")


@pytest.fixture
def engine_env(monkeypatch: pytest.MonkeyPatch, heidid_bin: str, tmp_path: Path) -> Iterator[Path]:
    for name in ENGINE_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HEIDID", heidid_bin)  # the only change besides the import: where the binary is
    monkeypatch.setenv("OUT_DIR", str(tmp_path / "out"))
    # Keep the resource governor out of the way unless a test sets limits.
    monkeypatch.setenv("MAX_CPU_PCT", "100")
    monkeypatch.setenv("MAX_MEM_PCT", "100")
    yield tmp_path / "out"


# heidi-web in front of a heidid (issue 20): a real heidi-web binary ($HEIDI_WEB or .build/debug/heidi-web) with a
# self-signed certificate made by openssl, an operator and a viewer password, an operator and a viewer token.
@pytest.fixture(scope="session")
def heidi_web_bin() -> str:
    return binary("heidi-web")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Web(ManagedProcess):
    """One heidi-web for ``daemon`` on 127.0.0.1, HTTPS unless ``tls`` is false; restartable on the same port."""

    name = "heidi-web"
    poll_interval = 0.05
    stop_timeout = 15.0

    PASSWORD = "operator-password-0123456789"
    VIEWER_PASSWORD = "viewer-password-0123456789"
    TOKEN = "operator-token-abcdefghijklmnop"
    VIEWER_TOKEN = "viewer-token-abcdefghijklmnop"

    def __init__(self, binary: str, daemon: Daemon, tls: bool) -> None:
        self.binary = binary
        self.daemon = daemon
        self.root = Path(tempfile.mkdtemp(prefix="hweb-"))
        self.port = free_port()
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.cafile = str(self.root / "cert.pem")
        self.log = self.root / "heidi-web.log"
        self.process: subprocess.Popen[bytes] | None = None
        secrets = {"password": self.PASSWORD, "viewer-password": self.VIEWER_PASSWORD, "token": self.TOKEN,
                   "viewer-token": self.VIEWER_TOKEN}
        for name, value in secrets.items():
            (self.root / name).write_text(value + "\n")
            os.chmod(self.root / name, 0o600)
        config = (f"web:\n  listen: 127.0.0.1:{self.port}\n  password_file: password\n"
                  "  viewer_password_file: viewer-password\n  token_file: token\n  viewer_token_file: viewer-token\n")
        if tls:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", str(self.root / "key.pem"), "-out", self.cafile, "-days", "2",
                            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                           check=True, capture_output=True)
            fingerprint = subprocess.run(["openssl", "x509", "-in", self.cafile, "-noout", "-fingerprint", "-sha256"],
                                         check=True, capture_output=True, text=True).stdout
            self.fingerprint = fingerprint.strip().split("=", 1)[1]  # "AB:CD:..." as openssl prints it
            config += "  tls_cert: cert.pem\n  tls_key: key.pem\n"
        (self.root / "heidi.yaml").write_text(config)

    def client(self, **kwargs: object) -> heidi.Client:
        options: dict[str, object] = {"token": self.TOKEN, "cafile": self.cafile if self.tls else None}
        options.update(kwargs)
        return heidi.Client(url=self.url, **options)  # type: ignore[arg-type]

    def async_client(self, **kwargs: object) -> heidi.AsyncClient:
        options: dict[str, object] = {"token": self.TOKEN, "cafile": self.cafile if self.tls else None}
        options.update(kwargs)
        return heidi.AsyncClient(url=self.url, **options)  # type: ignore[arg-type]

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = {k: v for k, v in os.environ.items() if k not in ("TELEMETRY_PASS", "HEIDI_CONFIG", "HEIDI_SOCKET")}
        return [self.binary, "--config", str(self.root / "heidi.yaml"), "--socket", self.daemon.socket], env

    def healthy(self) -> bool:
        return self.client().health()


class WebFactory:
    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.webs: list[Web] = []

    def __call__(self, daemon: Daemon, *, tls: bool = True) -> Web:
        web = Web(self.binary, daemon, tls)
        self.webs.append(web)
        web.start()
        return web

    def cleanup(self) -> None:
        for web in self.webs:
            web.stop()
            shutil.rmtree(web.root, ignore_errors=True)


@pytest.fixture
def webs(heidi_web_bin: str) -> Iterator[WebFactory]:
    factory = WebFactory(heidi_web_bin)
    yield factory
    factory.cleanup()
