#!/usr/bin/env python3
"""Demo "train" stage for heidid: a small stand-in for
scripts/04_train_qlora.py. No ML: it "trains" for N steps on a synthetic,
seeded loss curve that depends on the data, sleeping a little per step.

Writes <output>/metrics.json {train_steps, train_loss, samples, ...} and
<output>/final/adapter_config.json, both atomically. Prints one line per step
("step 3/10 loss=0.8123"). If HEIDI_NOTIFY_SOCKET is set, each step is also
sent there as "STATUS=step 3/10 loss=0.8123" with X_HEIDI_SCALARS={"step": 3,
"loss": 0.8123} for the dashboard's loss curve (AF_UNIX datagram, a path or an
abstract "@name"; best effort, errors ignored).

Usage: train.py --data PATH --output DIR --steps N [--seed S] [--step-delay SECONDS]
Exit status: 0 on success, 1 if the data is missing/empty/malformed or the
output cannot be written, 2 on bad arguments. Standard library only.
"""

import argparse
import hashlib
import json
import math
import os
import random
import sys
import time

from demo_common import atomic_write_text, env_round, int_arg, notify, positive_int

REQUIRED_FIELDS = ("instruction", "input", "output")


# ---------------------------------------------------------------- helpers

def non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number of seconds, got %r" % text)
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError("expected a non-negative number of seconds, got %r" % text)
    return value


def load_samples(path):
    samples = []
    with open(path, "r", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise ValueError("%s:%d: malformed JSON (%s)" % (path, lineno, e))
            if not isinstance(rec, dict) or any(not isinstance(rec.get(k), str) for k in REQUIRED_FIELDS):
                raise ValueError("%s:%d: record needs string fields %s" % (path, lineno, ", ".join(REQUIRED_FIELDS)))
            samples.append(rec)
    return samples


def main(argv=None):
    parser = argparse.ArgumentParser(description="Demo trainer: simulate a LoRA fine-tuning run on JSONL data.")
    parser.add_argument("--data", "-d", required=True, help="training JSONL (clean or tested samples)")
    parser.add_argument("--output", "-o", required=True, help="adapter output directory (created)")
    parser.add_argument("--steps", "--train-steps", dest="steps", type=positive_int, default=10,
                        help="number of training steps (10)")
    parser.add_argument("--seed", type=int_arg, default=None, help="RNG seed (default: 42 + $HEIDI_ROUND)")
    parser.add_argument("--step-delay", type=non_negative_float, default=None,
                        help="seconds to sleep per step (default: 0.15, less for many steps)")
    args = parser.parse_args(argv)

    if not os.path.isfile(args.data):
        print("[ERROR] training data not found: %s" % args.data, file=sys.stderr)
        return 1
    try:
        samples = load_samples(args.data)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        print("[ERROR] cannot load training data: %s" % e, file=sys.stderr)
        return 1
    if not samples:
        print("[ERROR] no training samples in %s" % args.data, file=sys.stderr)
        return 1

    seed = args.seed if args.seed is not None else 42 + env_round()
    with open(args.data, "rb") as f:
        data_hash = hashlib.sha256(f.read()).hexdigest()
    rng = random.Random("%d:%s" % (seed, data_hash))
    delay = args.step_delay if args.step_delay is not None else min(0.15, 2.0 / args.steps)

    usable = sum(1 for s in samples if s.get("test_result", {}).get("passed", True) is not False)
    print("[INFO] training on %d samples (%d usable) from %s, %d steps, seed %d"
          % (len(samples), usable, args.data, args.steps, seed), flush=True)
    notify("STATUS=loading %d samples" % len(samples))

    # A decaying loss curve with a little noise; more data converges lower.
    start_loss = 2.2 + rng.uniform(-0.1, 0.1)
    floor = max(0.15, 0.9 - 0.1 * math.log1p(usable))
    loss = start_loss
    losses = []
    started = time.monotonic()
    for step in range(1, args.steps + 1):
        time.sleep(delay)
        target = floor + (start_loss - floor) * math.exp(-3.0 * step / args.steps)
        loss = max(0.01, target * (1.0 + rng.uniform(-0.04, 0.04)))
        losses.append(loss)
        line = "step %d/%d loss=%.4f" % (step, args.steps, loss)
        print(line, flush=True)
        notify("STATUS=" + line + "\nX_HEIDI_SCALARS=" + json.dumps({"step": step, "loss": round(loss, 6)}))

    final_dir = os.path.join(args.output, "final")
    adapter_config = {
        "base_model": "demo-base",
        "peft_type": "LORA",
        "r": 8,
        "lora_alpha": 16,
        "target_modules": ["q_proj", "v_proj"],
        "demo": True,
    }
    metrics = {
        "train_steps": args.steps,
        "train_loss": round(loss, 6),
        "samples": len(samples),
        "usable_samples": usable,
        "initial_loss": round(losses[0], 6),
        "seed": seed,
        "data_path": args.data,
        "data_sha256": data_hash,
        "base_model": "demo-base",
        "wall_s": round(time.monotonic() - started, 3),
    }
    try:
        atomic_write_text(os.path.join(final_dir, "adapter_config.json"),
                          json.dumps(adapter_config, indent=2, sort_keys=True) + "\n")
        atomic_write_text(os.path.join(args.output, "metrics.json"),
                          json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    except OSError as e:
        print("[ERROR] cannot write to %s: %s" % (args.output, e.strerror or e), file=sys.stderr)
        return 1
    notify("X_HEIDI_COUNTERS=" + json.dumps({"train_steps": args.steps}))
    print("[OK] Training done: %d steps, final loss %.4f; metrics in %s"
          % (args.steps, loss, os.path.join(args.output, "metrics.json")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
