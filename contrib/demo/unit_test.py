#!/usr/bin/env python3
"""Demo "test" stage for heidid: a small stand-in for
scripts/03_unit_test_gate.py.

Reads validated JSONL samples and writes every one of them again (atomically)
with a "test_result" object added: code blocks in the output (```python fences,
bare ``` fences, or the whole output when it looks like Python) are syntax-
checked with compile(). Nothing is executed and nothing is filtered, like the
original gate. A sample without code passes with reason "no_code_found".

Usage: unit_test.py --input PATH --output PATH [--seed S]
Exit status: 0 on success, 1 if the input is missing/unreadable or the output
cannot be written, 2 on bad arguments. Standard library only.
"""

import argparse
import json
import re
import sys
import time

from demo_common import int_arg, notify, read_input_lines, write_jsonl

FENCED = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
PYTHON_HINT = re.compile(r"^\s*(?:def |class |import |from \S+ import |return\b|for |while |if |async def )",
                         re.MULTILINE)


def extract_blocks(text):
    blocks = [b for b in FENCED.findall(text) if b.strip()]
    if blocks:
        return blocks
    if PYTHON_HINT.search(text):
        return [text]
    return []


def check_sample(rec):
    output = rec.get("output") if isinstance(rec, dict) else None
    if not isinstance(output, str):
        return {"passed": False, "reason": "schema: output is missing or not a string", "blocks_tested": 0,
                "block_results": []}
    blocks = extract_blocks(output)
    if not blocks:
        return {"passed": True, "reason": "no_code_found", "blocks_tested": 0, "block_results": []}
    results = []
    for n, code in enumerate(blocks, 1):
        try:
            compile(code, "<%s block %d>" % (rec.get("id", "sample"), n), "exec", dont_inherit=True)
            results.append({"block": n, "passed": True})
        except (SyntaxError, ValueError) as e:
            where = " line %d" % e.lineno if getattr(e, "lineno", None) else ""
            msg = getattr(e, "msg", None) or str(e)
            results.append({"block": n, "passed": False, "error": "syntax_error%s: %s" % (where, msg)})
    passed = any(r["passed"] for r in results)
    reason = "ok" if passed else results[0]["error"]
    return {"passed": passed, "reason": reason, "blocks_tested": len(blocks), "block_results": results}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Demo unit-test gate: syntax-check the code in each sample and record the result.")
    parser.add_argument("--input", "-i", required=True, help="validated JSONL")
    parser.add_argument("--output", "-o", required=True, help="JSONL to write (parent dirs are created)")
    parser.add_argument("--seed", type=int_arg, default=None, help="accepted for symmetry; the gate is deterministic")
    args = parser.parse_args(argv)

    lines = read_input_lines(args.input, "input file not found")
    if lines is None:
        return 1

    delay = min(0.05, 1.0 / max(1, len(lines)))
    out = []
    passed = failed = no_code = 0
    for lineno, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
        except ValueError as e:
            print("[WARN] %s: record %d: malformed JSON skipped (%s)" % (args.input, lineno, e), file=sys.stderr)
            continue
        result = check_sample(rec)
        if not isinstance(rec, dict):
            rec = {"record": rec}
        rec["test_result"] = result
        out.append(rec)
        if result["reason"] == "no_code_found":
            no_code += 1
        if result["passed"]:
            passed += 1
        else:
            failed += 1
            print("[INFO] %s failed: %s" % (rec.get("id", "?"), result["reason"]), file=sys.stderr)
        time.sleep(delay)
        if len(out) % 10 == 0:
            print("[INFO] Tested %d/%d" % (len(out), len(lines)), file=sys.stderr, flush=True)

    if not write_jsonl(args.output, out):
        return 1
    print("[OK] Unit-test gate: %d samples, %d passed (%d without code), %d failed"
          % (len(out), passed, no_code, failed))
    print("[OK] Wrote %d samples to %s" % (len(out), args.output), flush=True)
    notify("STATUS=tested: %d passed, %d failed" % (passed, failed))
    notify("X_HEIDI_COUNTERS=" + json.dumps({"tests_failed": failed, "tests_passed": passed}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
