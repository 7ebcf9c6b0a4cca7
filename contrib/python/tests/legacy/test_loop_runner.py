"""Port of the original tests/test_loop_runner.py (reference §12.1, [ACCEPT]).

The original drove PythonLoopRunner with subprocess.run patched, and CppLoopRunner (heidi_cpp.Core) with
HEIDI_MOCK_SUBPROCESSES=1, asserting the state after start() and after each tick(), and that the Python runner made
exactly 4 (full), 2 then 4 (collect), or 5 (with tests, the third 03_unit_test_gate.py) script calls. Here the Core
is heidi.compat.Core on a private heidid in mock mode; the script calls are counted where heidi records them, as
stage_end events of the journal.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import journal

from heidi.compat import Core

pytestmark = [pytest.mark.legacy, pytest.mark.usefixtures("engine_env")]


def stages_run(out_dir: Path) -> list[str]:
    return [str(e["stage"]) for e in journal(out_dir) if e["event_type"] == "stage_end"]


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, engine_env: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ROUNDS", "1")
    monkeypatch.setenv("RUN_ID", "test_run_123")
    monkeypatch.setenv("HEIDI_MOCK_SUBPROCESSES", "1")
    core = Core()
    yield core
    core.shutdown()


def state(core: Core) -> str:
    import json

    return str(json.loads(core.get_status_json())["state"])


def test_loop_runner_full_mode(runner: Core, engine_env: Path) -> None:
    runner.init()
    runner.start(mode="full")
    assert state(runner) == "COLLECTING"
    for expected in ("VALIDATING", "FINALIZING", "EVALUATING", "IDLE"):
        runner.tick()
        assert state(runner) == expected
    assert stages_run(engine_env) == ["generate", "validate", "train", "eval"]  # was: 4 subprocess.run calls
    # The original accepted RUN_ID from the environment as the run's id; so does heidi.
    assert '"run_id":"test_run_123"' in runner.get_status_json()


def test_loop_runner_collect_mode(runner: Core, engine_env: Path) -> None:
    runner.init()
    runner.start(mode="collect")
    assert state(runner) == "COLLECTING"
    runner.tick()
    assert state(runner) == "VALIDATING"
    runner.tick()
    assert state(runner) == "IDLE"
    assert stages_run(engine_env) == ["generate", "validate"]  # only 2 steps ran
    runner.action_train_now()
    assert state(runner) == "FINALIZING"  # at once, held before train until the next tick
    runner.tick()
    assert state(runner) == "EVALUATING"
    runner.tick()
    assert state(runner) == "IDLE"
    assert stages_run(engine_env) == ["generate", "validate", "train", "eval"]
    # heidi records the trigger (the original's Core emitted no train_now_trigger event).
    assert [e["event_type"] for e in journal(engine_env)].count("train_now_trigger") == 1


def test_loop_runner_with_tests(runner: Core, engine_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUN_UNIT_TESTS", "1")
    runner.init()
    runner.start(mode="full")
    assert state(runner) == "COLLECTING"
    for expected in ("VALIDATING", "TESTING", "FINALIZING", "EVALUATING", "IDLE"):
        runner.tick()
        assert state(runner) == expected
    stages = stages_run(engine_env)
    assert len(stages) == 5 and stages[2] == "test"  # was: 5 calls, the third 03_unit_test_gate.py
