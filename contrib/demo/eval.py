#!/usr/bin/env python3
"""Demo "eval" stage for heidid: a small stand-in for scripts/05_eval.py.

Reads the adapter's metrics.json (from DIR, or from DIR/.. when DIR is the
adapter's "final" subdirectory) and the evaluation JSONL, simulates
generations whose success rate depends on the training loss, and writes a
JSON report atomically:
  {"adapter_path", "base_model", "data_path", "gen_config",
   "metrics": {"total_samples", "successful_samples", "failed_samples",
               "success_rate", "json_parse_rate", "format_compliance_rate",
               "repetition_rate", "avg_output_length", "train_loss", "train_steps"},
   "sample_results": [...]}
Prints a one-line summary.

Usage: eval.py --adapter DIR --data PATH --output PATH [--num-samples N] [--seed S]
Exit status: 0 on success, 1 if the adapter metrics or the data are missing,
unreadable or empty, or the report cannot be written, 2 on bad arguments.
Standard library only.
"""

import argparse
import json
import math
import os
import random
import sys
import time

from demo_common import env_round, int_arg, notify, positive_int, read_input_lines, write_output

MAX_SAMPLE_RESULTS = 10


# ---------------------------------------------------------------- helpers

def find_metrics(adapter):
    candidates = [os.path.join(adapter, "metrics.json")]
    if os.path.basename(os.path.normpath(adapter)) == "final":
        candidates.append(os.path.join(os.path.dirname(os.path.normpath(adapter)), "metrics.json"))
    for path in candidates:
        if os.path.isfile(path):
            return path
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description="Demo evaluator: score a trained adapter on JSONL data.")
    parser.add_argument("--adapter", "-a", required=True,
                        help="adapter directory containing metrics.json (or its final/ subdirectory)")
    parser.add_argument("--data", "-d", required=True, help="evaluation JSONL")
    parser.add_argument("--output", "-o", required=True, help="report JSON to write (parent dirs are created)")
    parser.add_argument("--num-samples", type=positive_int, default=None, help="evaluate at most N samples")
    parser.add_argument("--seed", type=int_arg, default=None, help="RNG seed (default: 42 + $HEIDI_ROUND)")
    args = parser.parse_args(argv)

    if not os.path.isdir(args.adapter):
        print("[ERROR] adapter directory not found: %s" % args.adapter, file=sys.stderr)
        return 1
    metrics_path = find_metrics(args.adapter)
    if metrics_path is None:
        print("[ERROR] no metrics.json in adapter directory %s (did the train stage finish?)" % args.adapter,
              file=sys.stderr)
        return 1
    try:
        with open(metrics_path, "r", encoding="utf-8") as f:
            train_metrics = json.load(f)
        train_loss = float(train_metrics["train_loss"])
        if not math.isfinite(train_loss):
            raise ValueError("train_loss is not finite")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        print("[ERROR] cannot read train metrics from %s: %s" % (metrics_path, e), file=sys.stderr)
        return 1

    lines = read_input_lines(args.data, "evaluation data not found")
    if lines is None:
        return 1
    if args.num_samples is not None:
        lines = lines[:args.num_samples]
    if not lines:
        print("[ERROR] no evaluation samples in %s" % args.data, file=sys.stderr)
        return 1

    seed = args.seed if args.seed is not None else 42 + env_round()
    rng = random.Random(seed)
    p_success = min(0.99, max(0.05, 1.0 - 0.5 * train_loss))
    delay = min(0.05, 1.0 / len(lines))

    parsed = successes = compliant = 0
    lengths = []
    seen_outputs = {}
    results = []
    for n, line in enumerate(lines, 1):
        time.sleep(delay)
        try:
            rec = json.loads(line)
        except ValueError:
            rec = None
        if not isinstance(rec, dict) or not isinstance(rec.get("output"), str):
            results.append({"index": n - 1, "id": None, "success": False, "reason": "unparseable"})
            continue
        parsed += 1
        output = rec["output"]
        lengths.append(len(output))
        seen_outputs[output] = seen_outputs.get(output, 0) + 1
        has_code = "```" in output
        compliant += 1 if has_code else 0
        tested_ok = rec.get("test_result", {}).get("passed", True) is not False
        ok = has_code and tested_ok and rng.random() < p_success
        successes += 1 if ok else 0
        reason = "ok" if ok else ("no_code" if not has_code else ("test_failed" if not tested_ok else "mismatch"))
        results.append({"index": n - 1, "id": rec.get("id"), "success": ok, "reason": reason})
        if n % 10 == 0:
            notify("STATUS=evaluated %d/%d" % (n, len(lines)))

    total = len(lines)
    repeated = sum(c - 1 for c in seen_outputs.values())
    report = {
        "adapter_path": args.adapter,
        "base_model": train_metrics.get("base_model", "demo-base"),
        "data_path": args.data,
        "gen_config": {"max_new_tokens": 512, "temperature": 0.1, "top_p": 0.95},
        "metrics": {
            "total_samples": total,
            "successful_samples": successes,
            "failed_samples": total - successes,
            "success_rate": round(successes / total, 4),
            "json_parse_rate": round(parsed / total, 4),
            "format_compliance_rate": round(compliant / total, 4),
            "repetition_rate": round(repeated / total, 4),
            "avg_output_length": round(sum(lengths) / len(lengths), 2) if lengths else 0.0,
            "train_loss": train_loss,
            "train_steps": train_metrics.get("train_steps"),
        },
        "sample_results": results[:MAX_SAMPLE_RESULTS],
        "seed": seed,
    }
    if not write_output(args.output, json.dumps(report, indent=2, sort_keys=False) + "\n"):
        return 1
    m = report["metrics"]
    summary = "eval: %d samples, success_rate=%.2f format_compliance=%.2f (train_loss=%.4f)" % (
        total, m["success_rate"], m["format_compliance_rate"], train_loss)
    notify("STATUS=" + summary)
    print("[OK] %s -> %s" % (summary, args.output), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
