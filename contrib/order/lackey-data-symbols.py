#!/usr/bin/env python3
"""Names of the data objects of BINARY that a run touched, in order of first touch, from a valgrind lackey trace
(--tool=lackey --trace-mem=yes), for lld's --symbol-ordering-file: placed together, the variables, caches and
metadata a short-lived process uses at start share a few pages of .data, .bss and .rodata instead of one page each.
lld can move only objects that sit in sections of their own (the static Swift runtime's and standard library's do).
Names the binary defines more than once are left out (ambiguous.py).

    lackey-data-symbols.py BINARY TRACE
"""
import bisect
import subprocess
import sys

from ambiguous import ambiguous_names

binary, trace = sys.argv[1], sys.argv[2]
data_sections = {".data", ".bss", ".rodata", ".data.rel.ro", ".tdata", ".tbss"}
ranges = []
for line in subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    if "]" not in line:
        continue
    fields = line.split("]", 1)[1].split()
    if len(fields) >= 5 and fields[0] in data_sections:
        start, size = int(fields[2], 16), int(fields[4], 16)
        if start:
            ranges.append((start, start + size))
low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)

symbols = []
for line in subprocess.run(["nm", "-n", "-S", "--defined-only", binary], capture_output=True, text=True,
                           check=True).stdout.splitlines():
    fields = line.split()
    if len(fields) == 4 and fields[2] in "bBdDrRvV":
        symbols.append((int(fields[0], 16), max(int(fields[1], 16), 1), fields[3]))
starts = [symbol[0] for symbol in symbols]

seen = ambiguous_names(binary)
with open(trace, errors="replace") as lines:
    for line in lines:
        fields = line.split()
        if len(fields) != 2 or fields[0] not in ("L", "S", "M"):
            continue
        address = int(fields[1].split(",")[0], 16)
        if not low <= address < high:
            continue
        index = bisect.bisect_right(starts, address) - 1
        if index < 0 or address >= symbols[index][0] + symbols[index][1]:
            continue
        name = symbols[index][2]
        if name not in seen:
            seen.add(name)
            print(name)
