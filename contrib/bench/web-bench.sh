#!/usr/bin/env bash
# heidi-web benchmark (issue 17): event-to-client latency over Server-Sent Events with N concurrent clients
# (p50/p95 of journal event ts -> received), heidi-web's resident memory with them connected, and idle: RSS, CPU
# seconds and thread wake-ups (voluntary context switches, per thread) over IDLE_S (60) seconds with one SSE client
# connected, next to the keep-alives it got.
# Then a burst: a mocked pipeline of BURST_ROUNDS rounds writes ~10k journal events as fast as the engine steps, once
# without and once with CLIENTS SSE clients: the engine's time per event both ways, heidi-web's peak RSS.
# Usage: contrib/bench/web-bench.sh   (BIN=dir of built heidid/heidictl/heidi-web; default the debug build;
#        ONLY_BURST=1 skips the latency and idle part, NO_BURST=1 the burst)
set -euo pipefail
cd "$(dirname "$0")/../.."
CLIENTS=${CLIENTS:-100}
CYCLES=${CYCLES:-20}
BURST_ROUNDS=${BURST_ROUNDS:-900}
IDLE_S=${IDLE_S:-60}
BIN=${BIN:-$(swift build --show-bin-path)}
WORK=$(mktemp -d /tmp/heidi-web-bench.XXXXXX)
SOCK="$WORK/heidi.sock"
# A one-stage pipeline whose stage waits to be stopped: each cycle writes pipeline_start, round_start, stage_start,
# then (on stop) stage_end and pipeline_stop.
cat > "$WORK/heidi.yaml" <<YAML
pipeline: {mode: collect, rounds: 1, run_unit_tests: false, autostart: false}
stages:
  generate: {command: [sleep, "600"]}
limits: {max_cpu_pct: 100, max_mem_pct: 100}
logs: {journald: false}
YAML
python3 -c 'import secrets; print(secrets.token_urlsafe(18))' > "$WORK/password"
"$BIN/heidid" --config "$WORK/heidi.yaml" --state-dir "$WORK/state" --runtime-dir "$WORK/run" --socket "$SOCK" >"$WORK/heidid.log" 2>&1 &
DAEMON=$!
WEB=
cleanup() {
    [ -n "$WEB" ] && kill "$WEB" 2>/dev/null || true
    kill -TERM "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
"$BIN/heidi-web" --socket "$SOCK" --listen 127.0.0.1:0 --password-file "$WORK/password" >"$WORK/heidi-web.log" 2>&1 &
WEB=$!
for _ in $(seq 100); do grep -q listening "$WORK/heidi-web.log" 2>&1 && break; sleep 0.05; done
PORT=$(grep -o '127.0.0.1:[0-9]*' "$WORK/heidi-web.log" | head -1 | cut -d: -f2)
echo "heidi-web pid $WEB on port $PORT ($BIN)"
if [ -z "${ONLY_BURST:-}" ]; then
    python3 contrib/bench/web-bench.py --port "$PORT" --password-file "$WORK/password" --pid "$WEB" --clients "$CLIENTS" \
        --cycles "$CYCLES" --idle "$IDLE_S" --heidictl "$BIN/heidictl" --socket "$SOCK"
fi

[ -n "${NO_BURST:-}" ] && exit 0

# The burst: a fresh heidid whose stages are mocked (they succeed at once, ~20 journal events per round).
kill "$WEB"; wait "$WEB" 2>/dev/null || true; WEB=
kill -TERM "$DAEMON"; wait "$DAEMON" 2>/dev/null || true
BURST="$WORK/burst"
mkdir -p "$BURST"
sed -e "s|repo_root: ../contrib/demo|repo_root: $PWD/contrib/demo|" config/demo.yaml > "$BURST/heidi.yaml"
SOCK="$BURST/heidi.sock"
HEIDI_MOCK_SUBPROCESSES=1 "$BIN/heidid" --config "$BURST/heidi.yaml" --state-dir "$BURST/state" --runtime-dir "$BURST/run" \
    --socket "$SOCK" >"$BURST/heidid.log" 2>&1 &
DAEMON=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
"$BIN/heidi-web" --socket "$SOCK" --listen 127.0.0.1:0 --password-file "$WORK/password" >"$BURST/heidi-web.log" 2>&1 &
WEB=$!
for _ in $(seq 100); do grep -q listening "$BURST/heidi-web.log" 2>&1 && break; sleep 0.05; done
PORT=$(grep -o '127.0.0.1:[0-9]*' "$BURST/heidi-web.log" | head -1 | cut -d: -f2)
python3 contrib/bench/web-burst.py --port "$PORT" --password-file "$WORK/password" --pid "$WEB" --daemon-pid "$DAEMON" --clients "$CLIENTS" \
    --rounds "$BURST_ROUNDS" --heidictl "$BIN/heidictl" --socket "$SOCK"
