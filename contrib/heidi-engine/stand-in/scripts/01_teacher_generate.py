#!/usr/bin/env python3
"""Stand-in for 01_teacher_generate.py: synthetic samples, the original's arguments and progress lines."""
import argparse
import os
import random
import sys
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from heidi_engine import standin  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description="Generate teacher samples (stand-in)")
    parser.add_argument("--samples", "-n", type=int, default=int(os.environ.get("SAMPLES_PER_ROUND", "50")))
    parser.add_argument("--output", "-o", required=True)
    parser.add_argument("--teacher", default=os.environ.get("TEACHER_MODEL", "gpt-4o-mini"))
    parser.add_argument("--backend", choices=["legacy", "openhei"], default=os.environ.get("TEACHER_BACKEND", "legacy"))
    parser.add_argument("--round", type=int, default=1)
    parser.add_argument("--language", default=os.environ.get("LANGUAGE", "python"))
    parser.add_argument("--repo-dir", default=os.environ.get("OUT_DIR"))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SEED", "42")))
    args = parser.parse_args()
    standin.log_environment("01")
    if args.backend != "legacy":
        print("[ERROR] the stand-in has only the legacy backend", file=sys.stderr)
        return 1

    rng = random.Random(args.seed + args.round)
    functions = ["calculate_sum", "find_max", "fibonacci"]
    tasks = ["code_completion", "bug_fixing", "refactoring"]
    records = []
    started = time.monotonic()
    for index in range(args.samples):
        task = rng.choice(tasks)
        name = rng.choice(functions)
        code = f"def {name}(values):\n    return values  # round {args.round} sample {index}"
        records.append({
            "id": f"round_{args.round}_{index:04d}",
            "instruction": f"{task.replace('_', ' ').title()} for the function {name}.",
            "input": code,
            "output": f"{task}: {code}\n\n# (synthetic legacy backend)",
            "metadata": {"task_type": task, "round": args.round,
                         "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
                         "teacher_model": args.teacher, "teacher_backend": args.backend},
        })
        time.sleep(standin.step_seconds())
        done = index + 1
        elapsed = max(time.monotonic() - started, 1e-6)
        rate = done / elapsed
        eta = int((args.samples - done) / rate) if rate > 0 else 0
        print(f"[INFO] Generated {done}/{args.samples} ({done / args.samples * 100:.0f}%) | {rate:.2f} it/s | ETA {eta}s",
              file=sys.stderr, flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    standin.write_jsonl(args.output, records)
    print(f"[OK] Wrote {len(records)} samples to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
