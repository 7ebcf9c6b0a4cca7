#!/usr/bin/env python3
"""Stand-in for 02_validate_clean.py: containment in OUT_DIR, strict schema, provenance, lengths, dedupe."""
import argparse
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from heidi_engine import standin  # noqa: E402

SCHEMA = {"id", "instruction", "input", "output", "metadata"}


def main():
    parser = argparse.ArgumentParser(description="Validate and clean samples (stand-in)")
    parser.add_argument("--input", "-i", required=True)
    parser.add_argument("--output", "-o", required=True)
    parser.add_argument("--max-input", type=int, default=int(os.environ.get("MAX_INPUT_LENGTH", "1800")))
    parser.add_argument("--max-output", type=int, default=int(os.environ.get("MAX_OUTPUT_LENGTH", "2048")))
    parser.add_argument("--min-input", type=int, default=int(os.environ.get("MIN_INPUT_LENGTH", "10")))
    parser.add_argument("--min-output", type=int, default=int(os.environ.get("MIN_OUTPUT_LENGTH", "20")))
    parser.add_argument("--no-dedupe", action="store_true")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SEED", "42")))
    args = parser.parse_args()
    allowed = os.path.abspath(os.environ.get("OUT_DIR", os.getcwd()))
    standin.enforce_containment(args.input, allowed)
    standin.enforce_containment(args.output, allowed)
    standin.log_environment("02")

    kept, dropped, seen = [], {}, set()
    for record in standin.read_jsonl(args.input):
        if set(record) != SCHEMA:
            print(f"[FATAL] Schema violation in {record.get('id', '?')}: keys {sorted(record)}", file=sys.stderr)
            return 1
        reason = None
        if not standin.provenance_skipped() and "signature" not in record["metadata"]:
            reason = "provenance"
        elif not args.min_input <= len(record["input"]) <= args.max_input:
            reason = "input_length"
        elif not args.min_output <= len(record["output"]) <= args.max_output:
            reason = "output_length"
        else:
            digest = hashlib.sha256((record["instruction"] + record["output"]).encode()).hexdigest()
            if not args.no_dedupe and digest in seen:
                reason = "duplicate"
            seen.add(digest)
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        record["validation"] = {"passed": True, "reason": "ok"}
        kept.append(record)
    standin.write_jsonl(args.output, kept)
    print(f"[OK] Kept {len(kept)} samples, dropped {dropped}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
