#!/usr/bin/env python3
"""Names of the functions of BINARY that ran, from callgrind profiles (--dump-instr=yes), for lld's
--symbol-ordering-file: the symbols of the first profile first, then the new ones of each further profile, each
profile in order of first appearance.

Instruction addresses, not callgrind's function names: valgrind cannot name code that has no ELF symbol size or lies
below main, and a function it cannot name would be left out of the hot region. Names the binary defines more than
once are left out (ambiguous.py).

    callgrind-symbols.py BINARY PROFILE...
"""
import bisect
import re
import subprocess
import sys

from ambiguous import ambiguous_names

binary, profiles = sys.argv[1], sys.argv[2:]
starts, names = [], []
for line in subprocess.run(["nm", "-n", "--defined-only", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    fields = line.split()
    if len(fields) == 3 and fields[1] in "tTWw":
        starts.append(int(fields[0], 16))
        names.append(fields[2])

ordered, seen = [], ambiguous_names(binary)
for profile in profiles:
    objects, current, last = {}, None, 0
    for line in open(profile, errors="replace"):
        line = line.rstrip("\n")
        match = re.match(r"^(c?ob)=\((\d+)\)(?: (.+))?$", line)
        if match:
            if match.group(3):
                objects[match.group(2)] = match.group(3)
            if match.group(1) == "ob":
                current = objects.get(match.group(2))
            continue
        # Cost lines start with an instruction address: absolute (0x..), relative to the last one (+n, -n) or the same (*).
        if not line or not (line[0] in "+-*" or line.startswith("0x")):
            continue
        token = line.split()[0]
        address = last if token == "*" else last + int(token, 0) if token[0] in "+-" else int(token, 16)
        last = address
        if current and current.endswith("/" + binary.rsplit("/", 1)[-1]):
            index = bisect.bisect_right(starts, address) - 1
            if index >= 0 and names[index] not in seen:
                seen.add(names[index])
                ordered.append(names[index])
# Under valgrind the kernel maps no vDSO into the program, so the start-up code of a static glibc that reads the
# vDSO's symbol table never ran in a profile; outside valgrind it runs in every process (1 page fault of a `heidictl
# status`, found with `perf record -e exceptions:page_fault_user`).
defined = set(names)
for name in ["_dl_new_object", "_dl_setup_hash", "_dl_add_to_namespace_list", "_dl_lookup_symbol_x", "do_lookup_x",
             "check_match"]:
    if name in defined and name not in seen:
        seen.add(name)
        ordered.append(name)
# glibc picks each string function's variant (`__memmove_avx_unaligned_erms`, `__strlen_evex`, ...) by the CPU's
# features when the program starts, and valgrind's CPU has no AVX-512: the variants the profile names are not the
# ones a machine with AVX-512 runs, and those were left far from the hot region (3 page faults of a `heidictl
# status`). Each variant named is followed by its siblings: a few KiB each, all in the hot region.
VARIANT = re.compile(r"^(__\w+?)_(?:sse2|ssse3|sse4_1|sse4_2|avx2|avx512f|avx512|avx|evex512|evex)(?:_\w+)?$")
siblings = {}
for name in names:
    match = VARIANT.match(name)
    if match:
        siblings.setdefault(match.group(1), []).append(name)
expanded = []
for name in ordered:
    expanded.append(name)
    match = VARIANT.match(name)
    if match:
        for sibling in siblings.get(match.group(1), []):
            if sibling not in seen:
                seen.add(sibling)
                expanded.append(sibling)
print("\n".join(expanded))
