"""Helpers shared by the test files: the journal as dicts, stage scripts in a repo root."""

from __future__ import annotations

import json
import os
from pathlib import Path


def journal(out_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out_dir / "events.jsonl").read_bytes().splitlines()]


def write_script(repo: Path, name: str, text: str) -> None:
    (repo / "scripts").mkdir(parents=True, exist_ok=True)
    (repo / "scripts" / name).write_text(text)
    os.chmod(repo / "scripts" / name, 0o755)
