"""Shared by the stand-in scripts: path containment, JSONL, provenance switch, and the test's environment log."""
import json
import os
import sys

LOOP_SH_VARIABLES = [
    "OUT_DIR", "AUTOTRAIN_DIR", "RUN_ID", "ROUND", "ROUNDS", "PIPELINE_MODE", "RUN_UNIT_TESTS", "SAMPLES_PER_ROUND",
    "SEED", "PYTHONHASHSEED", "BASE_MODEL", "TEACHER_MODEL", "TEACHER_BACKEND", "TRAIN_STEPS", "LORA_R", "VAL_RATIO",
    "MAX_OUTPUT_LENGTH", "UNIT_TEST_TIMEOUT", "SKIP_PROVENANCE_CHECK", "PYTHONPATH",
]


def enforce_containment(path, base):
    """Refuse any path that does not resolve inside base (the original's zero-trust rule)."""
    real = os.path.realpath(path)
    root = os.path.realpath(base)
    if os.path.commonpath([real, root]) != root:
        raise PermissionError(f"Zero-Trust Violation: Path {real} is outside allowed boundary {root}")


def provenance_skipped():
    return os.environ.get("SKIP_PROVENANCE_CHECK", "").lower() in ("1", "true", "yes")


def read_jsonl(path):
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                print(f"[WARN] line {number}: not JSON, skipped", file=sys.stderr)
    return records


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def log_environment(script):
    """Test aid: record which loop.sh variables this script saw."""
    base = os.environ.get("OUT_DIR", os.getcwd())
    entry = {"script": script, "cwd": os.getcwd(), "env": {k: os.environ[k] for k in LOOP_SH_VARIABLES if k in os.environ}}
    with open(os.path.join(base, "standin-env.jsonl"), "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def step_seconds():
    return float(os.environ.get("STANDIN_STEP_SECONDS", "0"))
