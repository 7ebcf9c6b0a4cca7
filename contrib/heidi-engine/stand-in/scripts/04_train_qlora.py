#!/usr/bin/env python3
"""Stand-in for 04_train_qlora.py: the original's arguments, containment and schema; a tqdm-style bar on stderr."""
import argparse
import json
import os
import sys
import time

# Like the original, this does not add the checkout to sys.path: it needs PYTHONPATH.
from heidi_engine import standin

ALLOWED_EXTRA = {"id", "provenance", "metadata", "validation"}


def main():
    parser = argparse.ArgumentParser(description="QLoRA training (stand-in)")
    parser.add_argument("--data", "-d", required=True)
    parser.add_argument("--output", "-o", required=True)
    parser.add_argument("--val-data")
    parser.add_argument("--base-model", default=os.environ.get("BASE_MODEL", "mistralai/Mistral-7B-Instruct-v0.2"))
    parser.add_argument("--seq-len", type=int, default=int(os.environ.get("SEQ_LEN", "2048")))
    parser.add_argument("--batch-size", type=int, default=int(os.environ.get("BATCH_SIZE", "1")))
    parser.add_argument("--grad-accum", type=int, default=int(os.environ.get("GRAD_ACCUM", "8")))
    parser.add_argument("--train-steps", type=int, default=int(os.environ.get("TRAIN_STEPS", "10")))
    parser.add_argument("--save-steps", type=int, default=100)
    parser.add_argument("--eval-steps", type=int, default=50)
    parser.add_argument("--lora-r", type=int, default=int(os.environ.get("LORA_R", "32")))
    parser.add_argument("--lora-alpha", type=int, default=128)
    parser.add_argument("--lora-dropout", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SEED", "42")))
    args = parser.parse_args()
    standin.enforce_containment(args.data, os.getcwd())
    standin.enforce_containment(args.output, os.getcwd())
    standin.log_environment("04")

    records = standin.read_jsonl(args.data)
    for record in records:
        missing = {"instruction", "input", "output"} - set(record)
        extra = set(record) - {"instruction", "input", "output"} - ALLOWED_EXTRA
        if missing or extra:
            print(f"[ERROR] Invalid record {record.get('id', '?')}: missing {sorted(missing)}, unexpected {sorted(extra)}",
                  file=sys.stderr)
            return 1
        if not standin.provenance_skipped() and "signature" not in record.get("metadata", {}):
            print(f"[ERROR] SECURITY BREACH: unsigned record {record.get('id', '?')}", file=sys.stderr)
            return 1
    if not records:
        print("[ERROR] no training data", file=sys.stderr)
        return 1

    os.makedirs(args.output, exist_ok=True)
    steps = args.train_steps
    started = time.monotonic()
    for step in range(steps + 1):
        elapsed = time.monotonic() - started
        per_step = elapsed / step if step else 0
        remaining = f"{int(per_step * (steps - step)) // 60:02d}:{int(per_step * (steps - step)) % 60:02d}" if step else "?"
        rate = f"{per_step:5.2f}s/it" if step else "?it/s"
        bar = "#" * (10 * step // steps)
        sys.stderr.write(f"\r{100 * step // steps:3d}%|{bar:<10}| {step}/{steps} "
                         f"[{int(elapsed) // 60:02d}:{int(elapsed) % 60:02d}<{remaining}, {rate}]")
        sys.stderr.flush()
        if step < steps:
            time.sleep(standin.step_seconds())
    sys.stderr.write("\n")
    os.makedirs(os.path.join(args.output, "final"), exist_ok=True)
    with open(os.path.join(args.output, "final", "adapter_config.json"), "w") as handle:
        json.dump({"base_model_name_or_path": args.base_model, "r": args.lora_r}, handle)
    metrics = {"train_steps": steps, "train_loss": 1.0, "eval_loss": None, "base_model": args.base_model,
               "lora_r": args.lora_r, "lora_alpha": args.lora_alpha, "seq_len": args.seq_len,
               "batch_size": args.batch_size, "grad_accum": args.grad_accum, "lr": args.lr}
    with open(os.path.join(args.output, "metrics.json"), "w") as handle:
        json.dump(metrics, handle)
    print(f"[OK] Adapter saved to {args.output}/final", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
