#!/usr/bin/env python3
"""Stand-in for 05_eval.py: containment in the working directory; a report with the original's keys."""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from heidi_engine import standin  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description="Evaluate an adapter (stand-in)")
    parser.add_argument("--adapter", "-a", required=True)
    parser.add_argument("--data", "-d", required=True)
    parser.add_argument("--output", "-o", required=True)
    parser.add_argument("--base-model", default=os.environ.get("BASE_MODEL", "mistralai/Mistral-7B-Instruct-v0.2"))
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=0.1)
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--num-samples", type=int)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SEED", "42")))
    args = parser.parse_args()
    standin.enforce_containment(args.data, os.getcwd())
    standin.enforce_containment(args.output, os.getcwd())
    standin.log_environment("05")
    if not os.path.isdir(args.adapter):
        print(f"[ERROR] adapter not found: {args.adapter}", file=sys.stderr)
        return 1
    samples = standin.read_jsonl(args.data)
    total = len(samples)
    report = {"adapter_path": args.adapter, "base_model": args.base_model, "data_path": args.data,
              "gen_config": {"max_new_tokens": args.max_new_tokens, "temperature": args.temperature, "top_p": args.top_p},
              "metrics": {"total_samples": total, "successful_samples": total, "failed_samples": 0,
                          "success_rate": 1.0 if total else 0.0, "json_parse_rate": 0.0,
                          "format_compliance_rate": 1.0 if total else 0.0, "repetition_rate": 0.0,
                          "avg_output_length": 0.0},
              "sample_results": []}
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as handle:
        json.dump(report, handle, indent=2)
    print(f"[OK] Report written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
