#!/usr/bin/env bash
# Supervision benchmarks, heidid and supervisord side by side in one run (contrib/bench/README.md):
#   - output capture throughput of one chatty child and the daemon's CPU per MB, in two shapes
#     (8 KiB writes like `yes`; one write() per 70-byte line), every line verified
#   - stop request → whole TERM-ignoring tree gone (1 s grace), and survivors (a setsid grandchild)
#   - idle daemon with one quiet running child: CPU ticks over 60 s
# Builds release binaries into .build-release; installs supervisor with pip when it is missing.
# Knobs: BLOCK_LINES (4000000 = 280 MB), LINE_LINES (2000000 = 140 MB), REPEAT (5), STOP_TRIALS (5), IDLE_SECONDS (60),
# BENCH_DIR (where logs go; default /dev/shm, so the disk's writeback decides nothing), PAGE_REPORTING_ORDER (below),
# BIN_DIR (a directory with heidid and heidictl to measure instead of building them: e.g. an earlier commit's, for a
# before/after comparison on the same machine).
set -euo pipefail
export HEIDI_STATIC_LINK=1  # measure the installed binaries' link (Package.swift), as `make release` builds them
cd "$(dirname "$0")/../.."
if [[ -n "${BIN_DIR:-}" ]]; then
    BIN=$(cd "$BIN_DIR" && pwd)
    echo "==> measuring the binaries in $BIN"
else
    echo "==> building release binaries"
    for product in heidid heidictl heidi-exec; do
        swift build -c release --static-swift-stdlib --scratch-path .build-release --product "$product" >/dev/null
    done
    BIN=$(swift build -c release --static-swift-stdlib --scratch-path .build-release --show-bin-path)
fi
python3 -c 'import supervisor' 2>/dev/null || python3 -m pip install -q supervisor
echo "==> $(nproc) CPUs, $(uname -r), supervisor $(python3 -c 'import supervisor, importlib.metadata as m; print(m.version("supervisor"))')"
contrib/bench/machine-facts.sh
command -v perf >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq linux-perf >/dev/null 2>&1 || true; }
# PAGE_REPORTING_ORDER=11 (root): stop the guest handing free memory back to the host for the run, restored after.
# On these VMs (free page reporting, min_free_ms=0) a fresh page can cost a host fault on first touch, charged to
# whoever touches it: the log file's page cache makes every capturer's CPU per MB swing with it.
REPORTING=/sys/module/page_reporting/parameters/page_reporting_order
if [[ -n "${PAGE_REPORTING_ORDER:-}" && -w $REPORTING ]]; then
    SAVED_ORDER=$(cat "$REPORTING")
    trap 'echo "$SAVED_ORDER" > "$REPORTING"' EXIT
    echo "$PAGE_REPORTING_ORDER" > "$REPORTING"
    python3 -c 'x = b"\1" * (2 << 30)'  # back 2 GiB of guest memory now, so the runs find it backed
fi
FLOOR=$(mktemp -d)/capture-floor
cc -O2 -o "$FLOOR" contrib/bench/capture-floor.c
python3 contrib/bench/supervision_bench.py "$BIN" "$FLOOR"
