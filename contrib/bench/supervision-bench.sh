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
# The facts that explain a difference between machines: the CPU (and whether the text scan's AVX2 path runs), a VM
# or not, free page reporting (a host fault on a fresh page's first touch), and how large a pipe may grow.
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
avx2=$(grep -qw avx2 /proc/cpuinfo && echo "AVX2 (vector text scan)" || echo "no AVX2 (scalar text scan)")
virt="VM $(systemd-detect-virt --vm 2>/dev/null || true), container $(systemd-detect-virt --container 2>/dev/null || true)"
grep -qw hypervisor /proc/cpuinfo && virt+=" (CPU hypervisor flag set)"
reporting=$( [[ -r /sys/module/page_reporting/parameters/page_reporting_order ]] \
    && echo "on, order $(cat /sys/module/page_reporting/parameters/page_reporting_order)" || echo "off (no page_reporting module)")
hypervisor=$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor:[[:space:]]*//p')
# virtio-balloon feature bits (a string of 0/1, bit 0 first): 1 stats, 2 deflate on OOM, 3 free page hinting,
# 4 page poisoning, 5 free page reporting. Reporting on means freed memory goes back to the host.
balloon=none
for features in /sys/bus/virtio/drivers/virtio_balloon/virtio*/features; do
    [[ -r $features ]] || continue
    bits=$(cat "$features"); balloon="bits ${bits:0:8}:"
    for named in "1 stats" "2 deflate-on-oom" "3 free-page-hinting" "4 page-poisoning" "5 free-page-reporting"; do
        [[ ${bits:${named%% *}:1} == 1 ]] && balloon+=" ${named#* }"
    done
done
thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)
echo "==> CPU: ${cpu_model:-unknown}, $avx2; virtualisation: $virt${hypervisor:+, hypervisor $hypervisor};" \
    "virtio-balloon: $balloon; free page reporting: $reporting; THP: $thp; kernel $(uname -r);" \
    "pipe-max-size $(cat /proc/sys/fs/pipe-max-size) bytes"
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
