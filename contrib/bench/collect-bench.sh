#!/usr/bin/env bash
# heidi-collect benchmarks (README, "Native teacher collection: heidi-collect" → "Performance"). Release build with
# a static Swift runtime, as `make release` builds it, in .build-collect-static (SCRATCH=...). Prints, for each case, the whole-process wall time (fork to exit, median and
# best of RUNS) and heidi-collect's own figure from its summary line (first request to last answer):
#   1. mock provider at 100 ms latency, 10 requests            (original AsyncCollector: "~120 ms", a thread each)
#   2. mock provider at 100 ms latency, 1,000 requests, concurrency 1,000           (target: <= 150 ms wall)
#   3. peak memory (max RSS, /usr/bin/time) of case 2 and of 10,000 requests at concurrency 1,000
#   4. openai provider against heidi-collect-bench-server on loopback: requests/s  (target: >= 2,000/s)
#   5. the same server with 100 ms latency: 1,000 requests at concurrency 1,000 (1,000 pooled connections)
#   6. --rate-limit 200 on 600 requests: the achieved rate
# Environment: RUNS (5), HTTP_REQUESTS (20000), HTTP_CONCURRENCY (64).
set -euo pipefail
export HEIDI_STATIC_LINK=1  # measure the installed binaries' link (Package.swift), as `make release` builds them
cd "$(dirname "$0")/../.."
SCRATCH=${SCRATCH:-.build-collect-static}
RUNS=${RUNS:-5}
HTTP_REQUESTS=${HTTP_REQUESTS:-20000}
HTTP_CONCURRENCY=${HTTP_CONCURRENCY:-64}

echo "==> building release binaries in $SCRATCH"
for product in heidi-collect heidi-collect-bench-server; do
    swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --product "$product" >/dev/null
done
BIN=$(swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --show-bin-path)
WORK=$(mktemp -d /tmp/heidi-collect-bench.XXXXXX)
SERVER=
cleanup() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
TEMPLATES=contrib/collect/templates
now() { date +%s%N; }

# run LABEL ARGS...: RUNS runs; prints median/best wall ms and the in-process figures of the last run.
run() {
    local label=$1
    shift
    local walls=() summary=""
    for _ in $(seq "$RUNS"); do
        local start end
        start=$(now)
        "$BIN/heidi-collect" "$@" --quiet --no-validate --output "$WORK/out.jsonl" 2>"$WORK/stderr" || {
            echo "    $label: heidi-collect failed:"; cat "$WORK/stderr"; return 1; }
        end=$(now)
        walls+=($(( (end - start) / 1000 )))
        summary=$(grep -E ' req/s$' "$WORK/stderr" | tail -1)
    done
    local sorted median best
    sorted=$(printf '%s\n' "${walls[@]}" | sort -n)
    median=$(echo "$sorted" | sed -n "$(( (RUNS + 1) / 2 ))p")
    best=$(echo "$sorted" | head -1)
    local inner
    inner=$(echo "$summary" | sed -E 's/.*; ([0-9.]+)s, ([0-9.]+) req\/s$/\1 s in process, \2 req\/s/')
    printf '    %-58s wall median %6.1f ms, best %6.1f ms (%s)\n' "$label" \
        "$(awk "BEGIN {print $median / 1000}")" "$(awk "BEGIN {print $best / 1000}")" "$inner"
}

# rss LABEL ARGS...: peak resident memory of one run.
rss() {
    local label=$1
    shift
    /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN/heidi-collect" "$@" --quiet --no-validate --output "$WORK/out.jsonl" 2>/dev/null
    printf '    %-58s max RSS %6.1f MiB\n' "$label" "$(awk "BEGIN {print $(cat "$WORK/rss") / 1024}")"
}

echo "==> mock provider, 100 ms latency ($(nproc) cores; $RUNS runs each)"
MOCK=(--provider mock --templates "$TEMPLATES" --mock-latency 100ms)
run "10 requests, concurrency 10 (original: ~120 ms)" "${MOCK[@]}" --samples 10 --concurrency 10
run "1,000 requests, concurrency 1,000 (target <= 150 ms)" "${MOCK[@]}" --samples 1000 --concurrency 1000
run "10,000 requests, concurrency 1,000" "${MOCK[@]}" --samples 10000 --concurrency 1000

echo "==> peak memory"
rss "10 requests" "${MOCK[@]}" --samples 10 --concurrency 10
rss "1,000 requests, concurrency 1,000" "${MOCK[@]}" --samples 1000 --concurrency 1000
rss "10,000 requests, concurrency 1,000" "${MOCK[@]}" --samples 10000 --concurrency 1000

echo "==> openai provider against heidi-collect-bench-server on 127.0.0.1 (1 server thread)"
start_server() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true; fi
    "$BIN/heidi-collect-bench-server" "$@" >"$WORK/port" &
    SERVER=$!
    for _ in $(seq 100); do grep -q port "$WORK/port" 2>/dev/null && break; sleep 0.05; done
    PORT=$(awk '{print $2}' "$WORK/port")
}
start_server
HTTP=(--provider openai --base-url "http://127.0.0.1:$PORT/v1" --api-key-env BENCH_KEY --templates "$TEMPLATES")
export BENCH_KEY=sk-bench-0123456789abcdefghijklmnop
run "$HTTP_REQUESTS requests, concurrency $HTTP_CONCURRENCY (target >= 2,000 req/s)" "${HTTP[@]}" \
    --samples "$HTTP_REQUESTS" --concurrency "$HTTP_CONCURRENCY"
rss "$HTTP_REQUESTS requests, concurrency $HTTP_CONCURRENCY" "${HTTP[@]}" --samples "$HTTP_REQUESTS" --concurrency "$HTTP_CONCURRENCY"
start_server --latency-ms 100
HTTP=(--provider openai --base-url "http://127.0.0.1:$PORT/v1" --api-key-env BENCH_KEY --templates "$TEMPLATES")
run "100 ms server latency, 1,000 requests, concurrency 1,000" "${HTTP[@]}" --samples 1000 --concurrency 1000

echo "==> rate limit"
RUNS=1 run "--rate-limit 200, 600 requests (ideal: 2.0 s after a 200 burst)" --provider mock --templates "$TEMPLATES" \
    --mock-latency 1ms --samples 600 --concurrency 100 --rate-limit 200
