#!/usr/bin/env bash
# Regenerates contrib/order/heidid.order and contrib/order/heidictl.order, the function orders the release heidid and
# heidictl are linked with (Package.swift: lld --symbol-ordering-file). The functions the daemon runs when it starts, supervises a stage and answers its
# control socket are placed together at the front of .text, so they share pages: the idle daemon keeps ~4 MiB less
# of its executable resident than with the default layout, where they are spread over the whole 13 MiB of code
# (README.md, "Benchmarks").
#
# Profiles two runs of a release heidid under valgrind's callgrind, every instruction address kept:
#   1. idle: a collect pipeline whose stage sleeps; status, events, logs, /metrics and 300 status requests on one
#      connection (what control-bench.sh measures), then SIGTERM;
#   2. demo: one full round of the bundled demo pipeline (config/demo.yaml), its status, events and logs, then SIGTERM.
# The idle run's functions come first. heidictl's order is its `status` and `--json status` against the idle daemon,
# functions, then the data objects a lackey trace of `status` touches: each run is a fresh process, so what it touches
# shares a few pages instead of faulting in pages all over its 15 MiB of code and 1.4 MiB of data (182 page faults per
# status before, 92 with the order; contrib/bench/README.md). Names the binary defines more than once are left out
# (contrib/order/ambiguous.py). Needs valgrind (apt-get install valgrind). Symbols the code no longer has are ignored
# at link time, so a stale order costs memory, never correctness: regenerate after large changes.
set -euo pipefail
export HEIDI_STATIC_LINK=1  # measure the installed binaries' link (Package.swift), as `make release` builds them
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "generate.sh: needs valgrind (apt-get install -y valgrind)" >&2; exit 1; }

echo "==> building release heidid and heidictl"
make release >/dev/null
BIN=$(swift build -c release --static-swift-stdlib --show-bin-path)
WORK=$(mktemp -d /tmp/heidi-order.XXXXXX)
trap 'pkill -TERM -f "valgrind.*$WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT
# valgrind 3.19 cannot read the DWARF 5 debug information Swift emits; the symbol table is all it needs.
objcopy --strip-debug "$BIN/heidid" "$WORK/heidid"
objcopy --strip-debug "$BIN/heidictl" "$WORK/heidictl"
cc -O2 -o "$WORK/bench" contrib/bench/bench.c

# profile NAME CONFIG: starts heidid under callgrind, waits for its socket; the caller drives it and calls finish.
profile() {
    SOCK="$WORK/$1.sock"
    valgrind --tool=callgrind --dump-instr=yes --demangle=no --callgrind-out-file="$WORK/$1.callgrind" \
        "$WORK/heidid" --config "$2" --state-dir "$WORK/$1-state" --socket "$SOCK" 2>"$WORK/$1.log" &
    DAEMON=$!
    for _ in $(seq 600); do ctl status >/dev/null 2>&1 && return; sleep 0.1; done
    echo "generate.sh: heidid did not come up under valgrind; its log:" >&2; cat "$WORK/$1.log" >&2; exit 1
}
ctl() { "$BIN/heidictl" --socket "$SOCK" "$@"; }
finish() { kill -TERM "$DAEMON"; wait "$DAEMON" || true; }
wait_idle() {
    for _ in $(seq 900); do
        case "$(ctl --json status)" in *'"state":"IDLE"'*) return ;; *'"state":"ERROR"'*) ctl status; exit 1 ;; esac
        sleep 0.2
    done
    echo "generate.sh: the demo round did not finish" >&2; exit 1
}

echo "==> profiling the idle daemon"
profile idle contrib/bench/idle-child.yaml
ctl start >/dev/null
for _ in $(seq 20); do ctl status >/dev/null; ctl --json status >/dev/null; done
for args in status "--json status"; do
    # shellcheck disable=SC2086 # two words for the second run
    valgrind --tool=callgrind --dump-instr=yes --demangle=no --callgrind-out-file="$WORK/ctl-${args// /}.callgrind" \
        "$WORK/heidictl" --socket "$SOCK" $args >/dev/null 2>>"$WORK/ctl.log"
done
# Every load and store of one `heidictl status`: which data objects its start touches (lackey-data-symbols.py).
valgrind --tool=lackey --trace-mem=yes --log-file="$WORK/ctl.lackey" "$WORK/heidictl" --socket "$SOCK" status >/dev/null
ctl events >/dev/null
ctl logs generate -n 5 >/dev/null 2>&1 || true  # the sleeping stage may not have written a log yet
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n' >"$WORK/metrics.http"
"$WORK/bench" rtt "$SOCK" "$WORK/metrics.http" 5 >/dev/null
printf 'GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n' >"$WORK/status.http"
"$WORK/bench" rtt "$SOCK" "$WORK/status.http" 300 >/dev/null
finish

echo "==> profiling one round of the demo pipeline"
sed 's/^  rounds: 2/  rounds: 1/' config/demo.yaml >"$WORK/demo.yaml"
sed -i "s|repo_root: ../contrib/demo|repo_root: $PWD/contrib/demo|" "$WORK/demo.yaml"
profile demo "$WORK/demo.yaml"
ctl start --mode full --rounds 1 >/dev/null
wait_idle
ctl status >/dev/null; ctl events >/dev/null; ctl logs train -n 5 >/dev/null
finish

{
    echo "# Function order for the release heidid (lld --symbol-ordering-file), written by contrib/order/generate.sh."
    contrib/order/callgrind-symbols.py "$WORK/heidid" "$WORK/idle.callgrind" "$WORK/demo.callgrind"
} >contrib/order/heidid.order
echo "==> contrib/order/heidid.order: $(($(wc -l <contrib/order/heidid.order) - 1)) functions"
{
    echo "# Function and data order for the release heidictl (lld --symbol-ordering-file), written by contrib/order/generate.sh."
    contrib/order/callgrind-symbols.py "$WORK/heidictl" "$WORK/ctl-status.callgrind" "$WORK/ctl---jsonstatus.callgrind"
    contrib/order/lackey-data-symbols.py "$WORK/heidictl" "$WORK/ctl.lackey"
} >contrib/order/heidictl.order
echo "==> contrib/order/heidictl.order: $(($(wc -l <contrib/order/heidictl.order) - 1)) functions and data objects"
# SwiftPM does not know the order files are inputs of the link: remove the release binaries so the next build
# relinks them with the new orders.
rm -f "$BIN/heidid" .build-release/release/heidid "$BIN/heidictl" .build-release/release/heidictl
