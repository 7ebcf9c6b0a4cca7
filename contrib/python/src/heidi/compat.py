"""``heidi.compat.Core``: the original engine's ``heidi_cpp.Core`` interface, on a private heidid.

The original exposed its C++ state machine to Python through pybind11; its orchestrator and tests stepped it with
``tick()``. Here every ``Core`` starts its own ``heidid`` (temporary runtime directory for the socket; the state
directory is ``$OUT_DIR`` like the original's output directory, or a temporary one) with the calling process's
environment, so the original's variables work unchanged: ``HEIDI_MOCK_SUBPROCESSES``, ``ROUNDS``,
``RUN_UNIT_TESTS``, ``OUT_DIR``, ``RUN_ID``, ``HEIDI_REPO_ROOT``, ``MAX_CPU_PCT``, ``MAX_MEM_PCT``,
``MAX_WALL_TIME_MINUTES``, ``PIPELINE_MODE``.

A run is started paused before its first stage, and each ``tick()`` runs exactly one stage through heidid's
``step`` action, which holds the run again at the next stage boundary. States, rounds and the status JSON read
like the original's. Where heidi deliberately differs (see README "Where heidi.compat differs"):

* the journal is heidi's: valid JSON on every line, a chain that continues across restarts, heidi's event types
  and messages (``stage_start``/``stage_end`` instead of ``script_success``);
* an action that does not apply raises (``heidi.Refused``) instead of being a silent no-op: ``action_train_now``
  outside collect mode's IDLE, ``start`` after ``shutdown``, and ``start("real")`` (heidi has no REAL gate);
* ``shutdown()`` stops a running stage (TERM, grace, KILL) instead of leaving it running;
* a missing ``OUT_DIR`` is created, and bad values (``MAX_CPU_PCT=0``) are configuration errors naming the
  variable instead of a crash or a nonsense limit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import weakref

from ._client import Client
from ._errors import HeidiError, NotRunning, Refused
from ._types import Status

__all__ = ["Core", "find_heidid"]

START_TIMEOUT = 15.0


def find_heidid() -> str:
    """``$HEIDID``, else ``heidid`` on the PATH."""
    explicit = os.environ.get("HEIDID")
    if explicit:
        return explicit
    found = shutil.which("heidid")
    if found is None:
        raise FileNotFoundError("heidid not found: put it on the PATH or set HEIDID to its path")
    return found


def _stop_daemon(process: subprocess.Popen[bytes], runtime_dir: str) -> None:
    """SIGTERM (heidid stops a run like `stop`, writes daemon_stop, exits 0), then SIGKILL if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    shutil.rmtree(runtime_dir, ignore_errors=True)


class Core:
    """The original ``heidi_cpp.Core``: ``init``, ``start(mode)``, ``tick(max_steps)``, ``get_status_json()``,
    ``action_train_now()``, ``shutdown()``; plus ``client`` (a :class:`heidi.Client` on the private daemon),
    ``state_dir`` and ``journal_path``.

    ``heidid``: the daemon binary (default :func:`find_heidid`). ``env``: the environment for the daemon
    (default: this process's at ``init()`` time, as the original read its configuration from the environment).
    """

    def __init__(self, heidid: str | None = None, env: dict[str, str] | None = None) -> None:
        self._heidid = heidid
        self._env = env
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes], str], Core] | None = None
        self._client: Client | None = None
        self._shut_down = False
        self._last_status = '{"state":"IDLE","round":0,"mode":"","run_id":""}'
        self.state_dir = ""
        self.runtime_dir = ""

    # MARK: the original's interface

    def init(self, config_path: str = "") -> None:
        """Starts the private heidid. ``config_path``, when it names an existing file, is passed as ``--config``
        (the original ignored it and read only the environment; so does this when the file does not exist)."""
        if self._process is not None:
            return
        env = dict(os.environ if self._env is None else self._env)
        env.pop("HEIDI_SOCKET", None)
        self.runtime_dir = tempfile.mkdtemp(prefix="heidi-core-")
        state_dir = env.get("HEIDI_STATE_DIR") or env.get("OUT_DIR")
        self.state_dir = os.path.abspath(state_dir) if state_dir else os.path.join(self.runtime_dir, "state")
        socket = os.path.join(self.runtime_dir, "heidi.sock")
        argv: list[str] = [self._heidid or find_heidid(), "--state-dir", self.state_dir,
                           "--runtime-dir", self.runtime_dir, "--socket", socket, "--log-target", "stderr"]
        if config_path and os.path.isfile(config_path):
            argv += ["--config", config_path]
        log_path = os.path.join(self.runtime_dir, "heidid.log")
        with open(log_path, "wb") as log:
            process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self._process = process
        self._finalizer = weakref.finalize(self, _stop_daemon, process, self.runtime_dir)
        client = Client(socket)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                with open(log_path, encoding="utf-8", errors="replace") as file:
                    output = file.read().strip()
                self._finalizer()
                raise RuntimeError(f"heidid exited with status {process.returncode} at start: {output}")
            try:
                if client.health():
                    break
            except NotRunning:
                pass
            if time.monotonic() > deadline:
                self._finalizer()
                raise RuntimeError(f"heidid did not become ready within {START_TIMEOUT:.0f} s (log: {log_path})")
            time.sleep(0.02)
        self._client = client

    def start(self, mode: str = "full") -> None:
        """Starts a run in ``mode`` (``full`` or ``collect``), held in COLLECTING before generate, as the original's
        start() left it. A run in progress is stopped first (the original restarted at round 1)."""
        if self._shut_down:
            raise RuntimeError("this Core was shut down; create a new one (the original ignored start() silently)")
        if mode == "real":
            raise Refused("start refused: heidi has no REAL mode gate; use 'full' or 'collect'")
        client = self.client
        if client.status().running:
            client.stop(wait=True)
        client.start(mode, paused=True)
        self._remember(client.status())

    def tick(self, max_steps: int = 1) -> str:
        """Runs the next stage and returns the status JSON once the run holds at the following boundary (or ended:
        IDLE, ERROR). In IDLE, in ERROR or after shutdown it does nothing. ``max_steps`` is ignored, as it was."""
        if self._shut_down or self._client is None:
            return self._last_status
        client = self._client
        status = client.status()
        if status.paused and status.running:
            client.step()
            status = client.status()
            while status.running and not status.paused:  # a real stage: wait for its end
                time.sleep(0.01)
                status = client.status()
        return self._remember(status)

    def get_status_json(self) -> str:
        """``{"state":"…","round":N,"mode":"…","run_id":"…"}``, keys in the original's order, properly escaped."""
        if self._shut_down or self._client is None:
            return self._last_status
        return self._remember(self._client.status())

    def action_train_now(self) -> None:
        """Collect mode, IDLE after a collected round: FINALIZING, held before train until the next tick. Raises
        :class:`heidi.Refused` with the daemon's reason otherwise (the original ignored it silently)."""
        self.client.train_now()
        self._remember(self.client.status())

    def shutdown(self) -> None:
        """Stops a running stage (unlike the original, which left it running) and the private heidid."""
        if self._shut_down:
            return
        self._shut_down = True
        try:
            if self._client is not None and self._client.status().running:
                self._client.stop(wait=True, timeout=60)
                self._remember(self._client.status())
        except HeidiError:
            pass
        finally:
            if self._finalizer is not None:
                self._finalizer()

    # MARK: extras

    @property
    def client(self) -> Client:
        """A :class:`heidi.Client` on the private heidid (events, logs, metrics, ...)."""
        if self._client is None:
            raise RuntimeError("call init() first" if not self._shut_down else "this Core was shut down")
        return self._client

    @property
    def journal_path(self) -> str:
        return os.path.join(self.state_dir, "events.jsonl")

    def __enter__(self) -> Core:
        self.init()
        return self

    def __exit__(self, *_: object) -> None:
        self.shutdown()

    def _remember(self, status: Status) -> str:
        run = status.run_id is not None
        self._last_status = json.dumps(
            {"state": status.state, "round": status.round, "mode": status.mode if run else "",
             "run_id": status.run_id or ""}, separators=(",", ":"))
        return self._last_status
