#!/usr/bin/env python3
"""Demo "validate" stage for heidid: a small stand-in for
scripts/02_validate_clean.py.

Reads JSONL samples, drops the ones that fail a filter and writes the rest
(atomically) with "validation": {"passed": true, "reason": "ok"} added.

Filters, in order: schema (exact keys id/instruction/input/output/metadata,
string fields), secrets (a few credential regexes), length limits, exact
duplicates (first occurrence wins). Malformed JSON lines are skipped with a
warning. Prints a kept/dropped summary by reason.

Usage: validate.py --input PATH --output PATH [--min-input N] [--min-output N]
                   [--max-input N] [--max-output N] [--no-dedupe] [--seed S]
Exit status: 0 on success (even if every sample was dropped), 1 if the input
is missing or unreadable or the output cannot be written, 2 on bad arguments.
Standard library only.
"""

import argparse
import hashlib
import json
import re
import sys
import time

from demo_common import int_arg, notify, read_input_lines, write_jsonl

REQUIRED_KEYS = ("id", "instruction", "input", "output", "metadata")

# A deliberately small set of fail-closed credential patterns.
SECRET_PATTERNS = [
    ("assignment", re.compile(
        r"(?i)\b[a-z0-9_]*(?:api[_-]?key|secret|token|passw(?:or)?d)\b[\"']?\s*[:=]\s*[\"']?[^\s\"']{8,}")),
    ("bearer", re.compile(r"(?i)\bbearer\s+[a-z0-9._~+/=-]{16,}")),
    ("aws_access_key", re.compile(r"\bAKIA[0-9A-Z]{16}\b")),
    ("github_token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("gitlab_token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b")),
    ("openai_key", re.compile(r"\bsk-[A-Za-z0-9_-]{32,}\b")),
    ("private_key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
]
SCANNED_FIELDS = ("instruction", "input", "output")


def check_schema(rec):
    if not isinstance(rec, dict):
        return "not an object"
    keys = set(rec)
    missing = [k for k in REQUIRED_KEYS if k not in keys]
    if missing:
        return "missing key(s): " + ", ".join(missing)
    extra = sorted(keys - set(REQUIRED_KEYS))
    if extra:
        return "unexpected key(s): " + ", ".join(extra)
    for k in ("id", "instruction", "input", "output"):
        if not isinstance(rec[k], str):
            return "%s is not a string" % k
    if not isinstance(rec["metadata"], dict):
        return "metadata is not an object"
    return None


def find_secret(rec):
    for field in SCANNED_FIELDS:
        for name, rx in SECRET_PATTERNS:
            if rx.search(rec[field]):
                return "%s in %s" % (name, field)
    return None


# ---------------------------------------------------------------- helpers

def non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a non-negative integer, got %r" % text)
    if value < 0:
        raise argparse.ArgumentTypeError("expected a non-negative integer, got %r" % text)
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Demo validator: filter generated samples (schema, secrets, length, duplicates).")
    parser.add_argument("--input", "-i", required=True, help="raw JSONL from the generate stage")
    parser.add_argument("--output", "-o", required=True, help="clean JSONL to write (parent dirs are created)")
    parser.add_argument("--min-input", type=non_negative_int, default=10, help="minimum input length in characters (10)")
    parser.add_argument("--min-output", type=non_negative_int, default=20,
                        help="minimum output length in characters (20)")
    parser.add_argument("--max-input", type=non_negative_int, default=1800,
                        help="maximum input length in characters (1800)")
    parser.add_argument("--max-output", type=non_negative_int, default=2048,
                        help="maximum output length in characters (2048)")
    parser.add_argument("--no-dedupe", action="store_true", help="keep exact duplicates")
    parser.add_argument("--seed", type=int_arg, default=None, help="accepted for symmetry; validation is deterministic")
    args = parser.parse_args(argv)

    lines = read_input_lines(args.input, "input file not found", keep_blank=True)
    if lines is None:
        return 1

    # Pretend the checks are expensive so progress is visible (~1.2 s in all).
    delay = min(0.05, 1.2 / max(1, sum(1 for line in lines if line.strip())))
    kept = []
    dropped = {}
    seen = set()
    total = 0
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        total += 1
        time.sleep(delay)
        try:
            rec = json.loads(line)
        except ValueError as e:
            print("[WARN] %s:%d: malformed JSON skipped (%s)" % (args.input, lineno, e), file=sys.stderr)
            dropped["malformed_json"] = dropped.get("malformed_json", 0) + 1
            continue
        reason = None
        detail = check_schema(rec)
        if detail:
            reason = "schema"
        if reason is None:
            detail = find_secret(rec)
            if detail:
                reason = "secret"
        if reason is None:
            if len(rec["input"]) < args.min_input:
                reason, detail = "input_too_short", "%d < %d chars" % (len(rec["input"]), args.min_input)
            elif len(rec["input"]) > args.max_input:
                reason, detail = "input_too_long", "%d > %d chars" % (len(rec["input"]), args.max_input)
            elif len(rec["output"]) < args.min_output:
                reason, detail = "output_too_short", "%d < %d chars" % (len(rec["output"]), args.min_output)
            elif len(rec["output"]) > args.max_output:
                reason, detail = "output_too_long", "%d > %d chars" % (len(rec["output"]), args.max_output)
        if reason is None and not args.no_dedupe:
            digest = hashlib.sha256(
                "\0".join((rec["instruction"], rec["input"], rec["output"])).encode("utf-8")).hexdigest()
            if digest in seen:
                reason, detail = "duplicate", "same instruction/input/output as an earlier sample"
            seen.add(digest)
        if reason is not None:
            dropped[reason] = dropped.get(reason, 0) + 1
            rid = rec.get("id", "?") if isinstance(rec, dict) else "?"
            print("[INFO] drop %s: %s (%s)" % (rid, reason, detail), file=sys.stderr)
            continue
        rec["validation"] = {"passed": True, "reason": "ok"}
        kept.append(rec)

    if not write_jsonl(args.output, kept):
        return 1

    n_dropped = sum(dropped.values())
    print("[OK] Validation summary: read %d, kept %d, dropped %d" % (total, len(kept), n_dropped))
    for reason in sorted(dropped):
        print("  dropped %-18s %d" % (reason + ":", dropped[reason]))
    print("[OK] Wrote %d samples to %s" % (len(kept), args.output), flush=True)
    if not kept:
        print("[WARN] no sample passed validation", file=sys.stderr)
    notify("STATUS=validated: kept %d of %d" % (len(kept), total))
    counters = {"samples_kept": len(kept), "samples_dropped": n_dropped}
    notify("X_HEIDI_COUNTERS=" + json.dumps(counters, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
