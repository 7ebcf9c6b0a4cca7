"""heidi.compat.Core where it deliberately differs from the original (contrib/python/README.md)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from support import journal, write_script

import heidi
from heidi.compat import Core

pytestmark = pytest.mark.usefixtures("engine_env")


def test_fresh_core_and_missing_out_dir(engine_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEIDI_MOCK_SUBPROCESSES", "1")
    monkeypatch.setenv("OUT_DIR", str(engine_env / "does" / "not" / "exist"))  # the original crashed
    core = Core()
    assert core.get_status_json() == '{"state":"IDLE","round":0,"mode":"","run_id":""}'  # before init, too
    with core:
        assert core.get_status_json() == '{"state":"IDLE","round":0,"mode":"","run_id":""}'
        assert Path(core.journal_path).exists()
        assert core.tick() == '{"state":"IDLE","round":0,"mode":"","run_id":""}'  # IDLE: nothing to do


def test_actions_that_do_not_apply_raise(engine_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEIDI_MOCK_SUBPROCESSES", "1")
    monkeypatch.setenv("ROUNDS", "2")
    with Core() as core:
        core.start("full")
        with pytest.raises(heidi.Refused, match="collect mode only"):
            core.action_train_now()  # the original ignored it silently
        with pytest.raises(heidi.Refused, match="REAL"):
            core.start("real")
        with pytest.raises(heidi.BadRequest):
            core.start("turbo")  # the original ran any string like collect
        core.tick()
        core.tick()
        # start() mid-run: the run is stopped, a new one starts at round 1 (the original reset the round in place)
        first = json.loads(core.get_status_json())["run_id"]
        core.start("collect")
        status = json.loads(core.get_status_json())
        assert (status["state"], status["round"], status["mode"]) == ("COLLECTING", 1, "collect")
        assert status["run_id"] != first
        assert "pipeline_stop" in [e["event_type"] for e in journal(engine_env)]
    with pytest.raises(RuntimeError, match="shut down"):
        core.start("full")  # the original ignored start() after shutdown() silently
    assert json.loads(core.tick())["state"] == "IDLE"  # shutdown stopped the run; tick() is a no-op after it


def test_shutdown_stops_a_running_stage(engine_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    pid_file = tmp_path / "stage.pid"
    write_script(repo, "01_teacher_generate.py",
                 f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n")
    monkeypatch.setenv("HEIDI_MOCK_SUBPROCESSES", "0")
    monkeypatch.setenv("HEIDI_REPO_ROOT", str(repo))
    core = Core()
    core.init()
    core.start("full")
    core.client.step()  # what tick() does, without waiting for the stage to end
    deadline = time.monotonic() + 20
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < deadline, "the stage did not start"
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    core.shutdown()  # the original set a flag and left the script running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    types = [e["event_type"] for e in journal(engine_env)]
    assert "pipeline_stop" in types and types[-1] == "daemon_stop"
    assert json.loads(core.get_status_json())["state"] == "IDLE"
