"""Port of the original tests/test_sec_redteam.py (reference §12.1, [ACCEPT]).

The original replaced scripts/01_teacher_generate.py in the working tree with one that prints an OpenAI key on
stdout and a GitHub token on stderr and exits 1, ran one tick, and asserted the journal contained neither secret
and did contain [OPENAI_KEY] and [GITHUB_TOKEN]. Same here, in a temporary repo root; heidi also keeps the secrets
out of the stage log and the API, and every journal line stays valid JSON (the original's did not when a child
printed quotes).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import write_script

from heidi.compat import Core

pytestmark = [pytest.mark.legacy, pytest.mark.usefixtures("engine_env")]

OPENAI = "sk-abcDEF1234567890abcDEF1234567890"
GITHUB = "ghp_aBCdefGHIjklMNOpqrSTUvwxYZ0123456789"
MALICIOUS = f"""import sys
print("My leaked key is {OPENAI}")
print("Also leaked {GITHUB}", file=sys.stderr)
print('a "quoted" \\\\ backslash\\tand tab')
sys.exit(1)
"""


def test_fuzzing(engine_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    write_script(repo, "01_teacher_generate.py", MALICIOUS)
    monkeypatch.setenv("HEIDI_MOCK_SUBPROCESSES", "0")
    monkeypatch.setenv("RUN_ID", "fuzz_001")
    monkeypatch.setenv("HEIDI_REPO_ROOT", str(repo))
    monkeypatch.setenv("MAX_WALL_TIME_MINUTES", "10")
    monkeypatch.setenv("MAX_CPU_PCT", "100")
    engine = Core()
    try:
        engine.init()
        engine.start("full")
        state = json.loads(engine.tick(1))  # runs the malicious script, which fails with exit 1
        assert state["state"] == "ERROR"
        log = list(engine.client.logs("generate", round=1))
        status = engine.client.status()
    finally:
        engine.shutdown()
    content = (engine_env / "events.jsonl").read_text()
    assert OPENAI not in content and GITHUB not in content
    assert "[OPENAI_KEY]" in content and "[GITHUB_TOKEN]" in content
    for line in content.splitlines():
        json.loads(line)  # every line is valid JSON
    assert any('"quoted"' in json.loads(line)["message"] for line in content.splitlines())
    assert "My leaked key is [OPENAI_KEY]" in log and "Also leaked [GITHUB_TOKEN]" in log
    assert status.last_error is not None and status.last_error.exit_code == 1
    assert OPENAI not in status.last_error.message and GITHUB not in status.last_error.message
    stage_log = (engine_env / "runs" / "fuzz_001" / "logs" / "round-1" / "generate.log").read_text()
    assert OPENAI not in stage_log and GITHUB not in stage_log
