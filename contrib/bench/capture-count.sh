#!/usr/bin/env bash
# Instructions per MB captured, by function, counted by callgrind (contrib/bench/README.md, "Counting instructions"):
# for VMs without hardware counters, where timings cannot resolve a change of a few percent. Builds heidid's modules
# (release), links capture-count/main.swift (the reader thread's work for a flood, in one thread) against them, runs
# it under callgrind for 20 and 40 MB of each 8 KiB shape and prints the difference per MB (start-up cancels out).
# heidid itself does not run under the valgrind Debian 12 ships (3.19 dies in its signal handling). Knobs: SHAPES.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install -y valgrind)" >&2; exit 1; }
swift build -c release --product heidid >"${TMPDIR:-/tmp}/capture-count-build.log" 2>&1 \
    || { echo "swift build failed: ${TMPDIR:-/tmp}/capture-count-build.log" >&2; exit 1; }
R=$(swift build -c release --show-bin-path)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
swiftc -O -I "$R/Modules" -Xcc -fmodule-map-file="$R/CHeidiShim.build/module.modulemap" -Xcc -ISources/CHeidiShim/include \
    -Xcc -fmodule-map-file=Sources/CCrypto/module.modulemap -Xcc -fmodule-map-file=Sources/CYAML/module.modulemap \
    contrib/bench/capture-count/main.swift -c -o "$OUT/main.o" -module-name CaptureCount 2>/dev/null
grep -E "/(HeidiSupervisor|HeidiCore|CHeidiShim|HeidiYAML|Logging)\.build/" "$R/heidid.product/Objects.LinkFileList" > "$OUT/objects"
swiftc -O -o "$OUT/count" "$OUT/main.o" $(cat "$OUT/objects") -lyaml -lgcrypt
strip --strip-debug "$OUT/count"  # valgrind 3.19 cannot read the toolchain's DWARF 5; the symbol table names functions
for shape in ${SHAPES:-text digits}; do
    for mb in 20 40; do
        valgrind --tool=callgrind --callgrind-out-file="$OUT/$shape.$mb" "$OUT/count" "$shape" "$mb" "$OUT/log" >/dev/null 2>&1
        rm -f "$OUT/log"
    done
    echo "== $shape: instructions per MB captured (40 MB run minus 20 MB run, over 20)"
    python3 - "$OUT/$shape.20" "$OUT/$shape.40" <<'PY'
import re, subprocess, sys
def load(path):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", path], capture_output=True, text=True).stdout
    costs = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+[^:]*:(\S+)", line)
        if m: costs[m.group(2)] = costs.get(m.group(2), 0) + int(m.group(1).replace(",", ""))
    return costs
a, b = load(sys.argv[1]), load(sys.argv[2])
diff = {k: (b.get(k, 0) - a.get(k, 0)) / 20 for k in set(a) | set(b)}
print(f"{sum(diff.values()) / 1e6:8.3f} M  total (memcpy counts rep movsb per byte; half of it is the simulated read)")
for name, cost in sorted(diff.items(), key=lambda kv: -kv[1]):
    if cost < 10_000: break
    shown = name
    if name.startswith("$s"):
        shown = subprocess.run(["swift", "demangle", "--simplified", "--compact", name], capture_output=True,
                               text=True).stdout.strip()
    print(f"{cost / 1e6:8.3f} M  {shown[:140]}")
PY
done
