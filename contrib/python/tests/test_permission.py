"""Permission denied as another uid: a throwaway user and group, created for the test and removed after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import DaemonFactory

import heidi

SRC = str(Path(heidi.__file__).resolve().parents[1])
PROBE = """
import json, sys, heidi
client = heidi.Client(sys.argv[1])
out = {}
for name, call in (("status", client.status), ("start", lambda: client.start("full", paused=True))):
    try:
        call()
        out[name] = "ok"
    except heidi.HeidiError as error:
        out[name] = [type(error).__name__, error.exit_code, str(error), getattr(error, "group", None)]
print(json.dumps(out))
"""


@pytest.fixture
def throwaway_user() -> Iterator[tuple[str, str]]:
    if os.geteuid() != 0:
        pytest.skip("needs root to create a throwaway user (CI runs as root)")
    suffix = str(os.getpid())
    user, group = f"hpyu{suffix}", f"hpyg{suffix}"
    subprocess.run(["groupadd", "--system", group], check=True)
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user], check=True)
    try:
        yield user, group
    finally:
        subprocess.run(["userdel", user], check=False)
        subprocess.run(["groupdel", group], check=False)


def run_as(user: str, socket: str) -> dict[str, Any]:
    result = subprocess.run(
        ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", sys.executable, "-c", PROBE, socket],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": SRC, "HOME": "/"}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def test_permission_denied_as_another_uid(daemons: DaemonFactory, throwaway_user: tuple[str, str]) -> None:
    user, group = throwaway_user
    daemon = daemons(config=f"control: {{group: {group}}}\n", start=False)
    daemon.runtime_dir.mkdir(mode=0o755)
    os.chmod(daemon.runtime_dir, 0o755)
    daemon.start()
    # 1. The socket (0660, group `group`) cannot be opened: exit 4, naming the socket and the group to join.
    answer = run_as(user, daemon.socket)
    for name in ("status", "start"):
        kind, code, message, named = answer[name]
        assert (kind, code, named) == ("PermissionDenied", 4, group), answer
        assert f"permission denied on {daemon.socket}" in message and f"join group {group}" in message
    # 2. A socket anyone may open: reading works, controlling is refused by the daemon (403) naming the group.
    os.chmod(daemon.socket, 0o666)
    answer = run_as(user, daemon.socket)
    assert answer["status"] == "ok"
    kind, code, message, named = answer["start"]
    assert (kind, code, named) == ("PermissionDenied", 4, group), answer
    assert "may read but not control heidid" in message
    assert daemon.client().status().state == "IDLE"
    # 3. A member of the control group may control.
    subprocess.run(["usermod", "-aG", group, user], check=True)
    os.chmod(daemon.socket, 0o660)
    assert run_as(user, daemon.socket) == {"status": "ok", "start": "ok"}
    assert daemon.client().status().paused
