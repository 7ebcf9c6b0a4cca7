"""heidi.Client against a real heidid: every method, every error, following across a restart."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time

import pytest
from conftest import Daemon, DaemonFactory, stage_config

import heidi


def test_status_health_and_metrics(daemon: Daemon) -> None:
    client = daemon.client()
    status = client.status()
    assert status.api_version == 1 and status.state == "IDLE" and status.run_id is None
    assert status.pid == daemon.process.pid if daemon.process else False
    assert status.journal.path == str(daemon.journal) and status.journal.seq >= 1
    assert status.raw["state"] == "IDLE" and not status.running
    assert client.health() is True
    metrics = client.metrics()
    assert metrics.get("heidi_up") == 1.0
    assert metrics.get("heidi_pipeline_state", state="IDLE") == 1.0
    assert metrics.get("heidi_pipeline_state", state="ERROR") == 0.0
    assert "# TYPE heidi_up gauge" in metrics.text


def test_full_run_start_wait_and_events(daemon: Daemon) -> None:
    client = daemon.client()
    result = client.start("full", rounds=2)
    assert result.action == "start" and result.run_id is not None
    status = client.wait("IDLE", timeout=10)
    assert status.round == 2 and status.rounds == 2 and status.mode == "full"
    events = list(client.events())
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.stage for e in events if e.event_type == "stage_end"] == ["generate", "validate", "train", "eval"] * 2
    assert events[-1].event_type == "pipeline_complete"
    # The chain: each prev_hash is the SHA-256 of the exact bytes of the line before (SPEC §7).
    for before, after in zip(events, events[1:]):
        assert after.prev_hash == hashlib.sha256(before.line).hexdigest()
    assert daemon.journal.read_bytes() == b"".join(e.line for e in events)
    assert [e.seq for e in client.events(after=events[-3].seq)] == [e.seq for e in events[-2:]]


def test_collect_mode_train_now_started_and_queued(daemon: Daemon) -> None:
    client = daemon.client()
    client.start("collect", rounds=2)
    status = client.wait("IDLE", timeout=10)
    assert status.awaiting_train_now and status.round == 1
    assert client.train_now().outcome == "started"
    status = client.wait("IDLE", timeout=10)
    assert status.round == 2 and status.awaiting_train_now
    # queued: while a run is paused in VALIDATING (collecting), train-now latches.
    client.train_now()
    client.wait("IDLE", timeout=10)
    client.start("collect", rounds=1, paused=True)
    client.step()
    assert client.status().state == "VALIDATING"
    assert client.train_now().outcome == "queued"
    assert client.status().train_now_pending
    client.resume()
    status = client.wait("IDLE", timeout=10)
    assert [e.event_type for e in client.events(after=status.journal.seq - 1)] == ["pipeline_complete"]


def test_pause_resume_step_stop_reset(daemons: DaemonFactory) -> None:
    daemon = daemons(mock=False, config=stage_config(generate="sleep 0.5", train="exit 3"))
    client = daemon.client()
    client.start("full", rounds=1)
    assert client.pause().outcome == "pause takes effect when generate finishes"
    status = client.wait("VALIDATING", timeout=10)
    assert status.paused and status.child is None
    assert client.step().action == "step"
    client.wait("FINALIZING", timeout=10)
    status = client.status()
    assert status.paused and not status.pause_requested
    client.resume()
    with pytest.raises(heidi.PipelineFailed) as failed:
        client.wait("IDLE", timeout=10)
    assert failed.value.exit_code == 1
    error = failed.value.status.last_error  # type: ignore[attr-defined]
    assert error.stage == "train" and error.exit_code == 3
    assert client.reset().action == "reset"
    assert client.status().state == "IDLE"
    # stop(wait=True) returns once the stage's tree is gone.
    daemon.config = stage_config(generate="sleep 30")
    daemon.restart()
    client.start()
    client.wait("COLLECTING", timeout=10)
    while client.status().child is None:
        time.sleep(0.02)
    started = time.monotonic()
    client.stop(wait=True, timeout=20)
    assert time.monotonic() - started < 10
    status = client.status()
    assert status.state == "IDLE" and status.child is None and not status.stopping


def test_refused_carries_the_daemons_reason(daemon: Daemon) -> None:
    client = daemon.client()
    with pytest.raises(heidi.Refused) as refused:
        client.reset()
    assert refused.value.exit_code == 1
    assert refused.value.reason == "reset refused: reset applies only in ERROR (state is IDLE)"
    with pytest.raises(heidi.Refused, match=r"train-now applies to collect mode only|no run is active"):
        client.train_now()
    client.start("full", paused=True)
    with pytest.raises(heidi.Refused, match="a run is active"):
        client.start()
    with pytest.raises(heidi.Refused, match="already paused"):
        client.pause()


def test_bad_requests(daemon: Daemon) -> None:
    client = daemon.client()
    with pytest.raises(heidi.BadRequest) as bad:
        client.start("fast")
    assert bad.value.exit_code == 2 and bad.value.status == 0
    with pytest.raises(heidi.BadRequest):
        client.start(rounds=0)
    with pytest.raises(heidi.BadRequest):
        client.wait("DONE")
    with pytest.raises(heidi.BadRequest):
        list(client.logs("deploy"))
    # Answered by the daemon: a 400 for a malformed body, a 404 for a log that does not exist.
    response = client.request("POST", "/api/v1/action/start", b"{not json")
    assert response.status == 400
    with pytest.raises(heidi.BadRequest) as bad:
        client._action("start", b'{"rounds":"x"}')
    assert bad.value.status == 400 and bad.value.exit_code == 5 and bad.value.code == "bad_request"
    client.start("full")
    client.wait("IDLE", timeout=10)
    with pytest.raises(heidi.BadRequest) as missing:
        list(client.logs("generate", round=7))
    assert missing.value.status == 404 and "no log for generate in round 7" in str(missing.value)


def test_not_running_names_the_socket(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(str(tmp_path), "none.sock")
    with pytest.raises(heidi.NotRunning) as error:
        heidi.Client(path).status()
    assert error.value.exit_code == 3 and not error.value.stale and path in str(error.value)
    stale = os.path.join(str(tmp_path), "stale.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(stale)
    listener.close()  # the file stays; nothing accepts
    with pytest.raises(heidi.NotRunning) as error:
        heidi.Client(stale).status()
    assert error.value.stale and "stale socket" in str(error.value)
    with pytest.raises(heidi.NotRunning):
        list(heidi.Client(stale).events())


def test_wait_timeout(daemon: Daemon) -> None:
    client = daemon.client()
    client.start("full", paused=True)
    with pytest.raises(heidi.WaitTimeout) as timeout:
        client.wait("EVALUATING", timeout=0.3)
    assert timeout.value.exit_code == 5 and "state is COLLECTING" in str(timeout.value)


def test_logs_tail_and_follow(daemons: DaemonFactory) -> None:
    script = "for i in 1 2 3 4 5; do echo line-$i; sleep 0.2; done; echo 'key sk-abcDEF1234567890abcDEF1234567890'"
    daemon = daemons(mock=False, config=stage_config(generate=script))
    client = daemon.client()
    client.start("full")
    while client.status().child is None:
        time.sleep(0.02)
    followed = []
    for line in client.logs(follow=True):  # the running stage, its round pinned
        followed.append(line)
        if len(followed) == 3:
            break
    assert followed == ["line-1", "line-2", "line-3"]
    client.wait("IDLE", timeout=20)
    lines = list(client.logs("generate", round=1))
    assert lines[:5] == [f"line-{i}" for i in range(1, 6)]
    assert lines[5] == "key [OPENAI_KEY]"  # redacted before anything is written (SPEC §7)
    assert list(client.logs("generate", round=1, tail=2)) == ["line-5", "key [OPENAI_KEY]"]


def test_events_follow_across_a_restart_without_gap_or_duplicate(daemon: Daemon) -> None:
    client = daemon.client()
    seen: list[heidi.Event] = []
    done = threading.Event()

    def follow() -> None:
        for event in client.events(follow=True):
            seen.append(event)
            if event.event_type == "pipeline_complete" and event.run_id == second_run[0]:
                done.set()
                return

    second_run: list[str | None] = [None]
    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    client.start("full", rounds=1)
    client.wait("IDLE", timeout=10)
    daemon.restart()  # daemon_stop, then a new process on the same journal
    second_run[0] = client.start("full", rounds=1).run_id
    assert done.wait(20), f"follower saw {[(e.seq, e.event_type) for e in seen]}"
    thread.join(5)
    seqs = [e.seq for e in seen]
    assert seqs == list(range(1, len(seqs) + 1))
    types = [e.event_type for e in seen]
    assert types.count("daemon_start") == 2 and types.count("daemon_stop") == 1
    assert b"".join(e.line for e in seen) == daemon.journal.read_bytes()[:sum(len(e.line) for e in seen)]


def test_socket_discovery_matches_heidictl(tmp_path: os.PathLike[str], heidictl_bin: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    root = str(tmp_path)
    block = os.path.join(root, "block.yaml")
    with open(block, "w") as f:
        f.write("# heidi\ncontrol:\n  group: heidi   # who may control\n  socket: sock/a.sock\n"
                "paths:\n  state_dir: /x\n")
    flow = os.path.join(root, "flow.yaml")
    with open(flow, "w") as f:
        f.write('paths: {runtime_dir: "/tmp/flow rt", state_dir: /x}\ncontrol: {group: heidi}\n')
    cases: list[tuple[str | None, dict[str, str]]] = [
        (None, {"HEIDI_SOCKET": "/tmp/from-env.sock"}),
        (block, {}),
        (flow, {}),
        (None, {"XDG_RUNTIME_DIR": "/tmp/xdg"}),
        (None, {"RUNTIME_DIRECTORY": "/tmp/sd-rt"}),
    ]
    for config, env in cases:
        environ = {"PATH": os.environ["PATH"], "HOME": root, **env}
        if config:
            environ["HEIDI_CONFIG"] = config
        ours = heidi.resolve_socket(environ=environ)
        result = subprocess.run([heidictl_bin, "status"], env=environ, capture_output=True, text=True)
        assert result.returncode == 3, result.stderr
        assert f"no control socket at {ours} " in result.stderr, (config, env, ours, result.stderr)
    assert heidi.resolve_socket("/explicit.sock", environ={"HEIDI_SOCKET": "/env.sock"}) == "/explicit.sock"
    monkeypatch.setenv("HEIDI_SOCKET", "/tmp/monkey.sock")
    assert heidi.Client().socket == "/tmp/monkey.sock"
