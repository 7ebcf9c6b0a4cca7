#!/usr/bin/env python3
"""Demo "generate" stage for heidid: a small, offline stand-in for
scripts/01_teacher_generate.py.

Writes N synthetic instruction/input/output samples as JSONL (atomically: temp
file + fsync + rename). A few samples are deliberately bad (too-short output,
an exact duplicate, a secret-looking assignment, code with a syntax error) so
that the validate and test stages have something to do.

Usage: generate.py --samples N --output PATH --round R [--seed S]

Progress goes to stderr ("[INFO] Generated 10/40 (25%) | ..."), the final
"[OK] Wrote N samples to PATH" to stdout. If HEIDI_NOTIFY_SOCKET is set, STATUS=
lines and one X_HEIDI_COUNTERS= datagram are sent there (best effort).
Standard library only.
"""

import argparse
import json
import random
import sys
import time

from demo_common import env_round, int_arg, notify, positive_int, write_jsonl

TEACHER_MODEL = "demo-teacher"
TEACHER_BACKEND = "demo"

# name, description, signature, body (correct), buggy body, verbose body
SNIPPETS = [
    ("calculate_sum", "return the sum of a list of numbers",
     "def {f}(values):",
     "    total = 0\n    for v in values:\n        total += v\n    return total",
     "    total = 0\n    for v in values:\n        total = v\n    return total",
     "    total = 0\n    i = 0\n    while i < len(values):\n        total = total + values[i]\n        i = i + 1\n    return total"),
    ("find_max", "return the largest element of a non-empty list",
     "def {f}(values):",
     "    best = values[0]\n    for v in values[1:]:\n        if v > best:\n            best = v\n    return best",
     "    best = 0\n    for v in values:\n        if v < best:\n            best = v\n    return best",
     "    best = None\n    for i in range(len(values)):\n        if best is None or values[i] > best:\n            best = values[i]\n    return best"),
    ("fibonacci", "return the n-th Fibonacci number",
     "def {f}(n):",
     "    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
     "    a, b = 0, 1\n    for _ in range(n - 1):\n        a, b = b, a + b\n    return b + 1",
     "    if n == 0:\n        return 0\n    if n == 1:\n        return 1\n    prev = 0\n    cur = 1\n    for i in range(2, n + 1):\n        nxt = prev + cur\n        prev = cur\n        cur = nxt\n    return cur"),
    ("is_palindrome", "tell whether a string reads the same backwards",
     "def {f}(text):",
     "    cleaned = [c.lower() for c in text if c.isalnum()]\n    return cleaned == cleaned[::-1]",
     "    cleaned = text.lower()\n    return cleaned == cleaned[1:]",
     "    cleaned = ''\n    for c in text:\n        if c.isalnum():\n            cleaned = cleaned + c.lower()\n    result = True\n    for i in range(len(cleaned)):\n        if cleaned[i] != cleaned[len(cleaned) - 1 - i]:\n            result = False\n    return result"),
    ("count_words", "count how often each word occurs in a text",
     "def {f}(text):",
     "    counts = {}\n    for word in text.split():\n        counts[word] = counts.get(word, 0) + 1\n    return counts",
     "    counts = {}\n    for word in text.split():\n        counts[word] = 1\n    return counts",
     "    counts = dict()\n    words = text.split()\n    for i in range(len(words)):\n        if words[i] in counts.keys():\n            counts[words[i]] = counts[words[i]] + 1\n        else:\n            counts[words[i]] = 1\n    return counts"),
    ("flatten", "flatten a list of lists into one list",
     "def {f}(nested):",
     "    out = []\n    for inner in nested:\n        out.extend(inner)\n    return out",
     "    out = []\n    for inner in nested:\n        out.append(inner)\n    return out",
     "    out = []\n    for i in range(len(nested)):\n        for j in range(len(nested[i])):\n            out.append(nested[i][j])\n    return out"),
]

TASK_TYPES = ["code_completion", "bug_fixing", "refactoring"]
SUFFIXES = ["", "_v2", "_fast", "_safe", "_impl", "_simple", "_alt"]


def fence(code):
    return "```python\n" + code + "\n```"


def make_combos(rng):
    """Every (snippet, task, suffix) combination once, in a seeded order, so
    that good samples never collide by accident."""
    combos = [(s, t, x) for s in range(len(SNIPPETS))
              for t in range(len(TASK_TYPES)) for x in range(len(SUFFIXES))]
    rng.shuffle(combos)
    return combos


def make_good(combos, idx):
    snippet, task_no, suffix_no = combos[idx % len(combos)]
    name, desc, sig, body, buggy, verbose = SNIPPETS[snippet]
    task = TASK_TYPES[task_no]
    func = name + SUFFIXES[suffix_no]
    cycle = idx // len(combos)
    if cycle:
        func += "_%d" % (cycle + 1)
    header = sig.format(f=func)
    correct = header + "\n" + body
    if task == "code_completion":
        instruction = "Complete the Python function `%s`; it should %s." % (func, desc)
        inp = header + '\n    """%s."""\n    # TODO: implement' % desc.capitalize()
        output = fence(correct) + "\n\nThe function now does what it promises: %s." % desc
    elif task == "bug_fixing":
        instruction = "Fix the bug in `%s`; it should %s." % (func, desc)
        inp = header + "\n" + buggy
        output = fence(correct) + "\n\nThe original version did not %s correctly." % desc
    else:
        instruction = "Refactor `%s` into clearer, more idiomatic Python without changing behaviour." % func
        inp = header + "\n" + verbose
        output = fence(correct) + "\n\nSame behaviour, fewer moving parts."
    return task, instruction, inp, output


def make_sample(rng, combos, rnd, idx, kind, previous):
    """previous: earlier good samples (a duplicate copies one of them)."""
    if kind == "duplicate" and previous:
        src = previous[rng.randrange(len(previous))]
        task, instruction, inp, output = (src["metadata"]["task_type"], src["instruction"],
                                          src["input"], src["output"])
    else:
        task, instruction, inp, output = make_good(combos, idx)
        if kind == "short":
            output = "TODO"  # far below the validator's minimum output length
        elif kind == "secret":
            # Looks like a leaked credential; the validator must drop it.
            output = output.replace("```python\n", "```python\nAPI_KEY = \"demo-%08d-not-a-real-key\"\n" % idx, 1)
        elif kind == "syntax":
            # Passes validation but the test gate's compile() rejects it.
            output = output.replace("):\n", ")\n", 1)
    return {
        "id": "round_%d_%04d" % (rnd, idx),
        "instruction": instruction,
        "input": inp,
        "output": output,
        "metadata": {
            "task_type": task,
            "round": rnd,
            "teacher_model": TEACHER_MODEL,
            "teacher_backend": TEACHER_BACKEND,
        },
    }


def plan_bad(rng, n):
    """Return {index: kind} for the deliberately bad samples."""
    if n < 5:
        return {}
    kinds = ["short"] * max(1, n // 20) + ["duplicate", "secret", "syntax"]
    positions = rng.sample(range(1, n), min(len(kinds), n - 1))
    return dict(zip(sorted(positions), kinds))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Demo teacher: generate synthetic code-instruction samples as JSONL.")
    parser.add_argument("--samples", "-n", type=positive_int, required=True, help="number of samples to write")
    parser.add_argument("--output", "-o", required=True, help="output JSONL path (parent dirs are created)")
    parser.add_argument("--round", type=positive_int, default=None,
                        help="round number (default: $HEIDI_ROUND, else 1)")
    parser.add_argument("--seed", type=int_arg, default=None, help="RNG seed (default: 42 + round)")
    args = parser.parse_args(argv)

    rnd = args.round if args.round is not None else env_round()
    seed = args.seed if args.seed is not None else 42 + rnd
    rng = random.Random(seed)
    n = args.samples

    bad = plan_bad(rng, n)
    combos = make_combos(rng)
    delay = min(0.05, 1.5 / n)  # whole stage takes about 1.5 s at most
    samples = []
    good = []
    start = time.monotonic()
    for idx in range(n):
        kind = bad.get(idx, "good")
        sample = make_sample(rng, combos, rnd, idx, kind, good)
        samples.append(sample)
        if kind == "good":
            good.append(sample)
        time.sleep(delay)
        done = idx + 1
        if done % 10 == 0 or done == n:
            elapsed = max(time.monotonic() - start, 1e-6)
            rate = done / elapsed
            eta = (n - done) / rate if rate > 0 else 0.0
            line = "Generated %d/%d (%d%%) | %.1f it/s | ETA %ds" % (done, n, done * 100 // n, rate, round(eta))
            print("[INFO] " + line, file=sys.stderr, flush=True)
            notify("STATUS=" + line)

    if not write_jsonl(args.output, samples):
        return 1
    notify("X_HEIDI_COUNTERS=" + json.dumps({"samples_generated": n}))
    print("[OK] Wrote %d samples to %s" % (n, args.output), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
