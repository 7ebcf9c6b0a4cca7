#!/usr/bin/env bash
# Journal benchmarks (README, "Journal and state" → "Benchmarks"):
#   - events/s appended by the journal writer with journal.fsync always / batch (10 ms group commit) / never,
#     and how long batch events wait until they are durable;
#   - verification speed (MB/s, lines/s) of a ~256 MB rotated journal with a checkpoint every 1,000 lines,
#     in-process and as a whole `heidictl journal verify` run;
#   - heidid in mock mode (HEIDI_MOCK_SUBPROCESSES=1): cost per state transition with each fsync policy, against
#     the original C++ engine's documented 0.8-0.93 ms per transition (it opened and closed the journal per event).
# Extra arguments go to heidi-journal-bench (--events N, --always N, --verify-mb MB). ROUNDS sets the mock run.
set -euo pipefail
export HEIDI_STATIC_LINK=1  # measure the installed binaries' link (Package.swift), as `make release` builds them
cd "$(dirname "$0")/../.."
SCRATCH=${SCRATCH:-.build-journal-release}
ROUNDS=${ROUNDS:-200}

echo "==> building release binaries in $SCRATCH"
for product in heidi-journal-bench heidid heidictl; do
    swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --product "$product" >/dev/null
done
BIN=$(swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --show-bin-path)
WORK=$(mktemp -d /tmp/heidi-journal-bench.XXXXXX)
cleanup() {
    [ -n "${HEIDID:-}" ] && kill -TERM "$HEIDID" 2>/dev/null && wait "$HEIDID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
now() { date +%s%N; }

echo "==> journal writer and verifier ($(nproc) cores; $(df -T "$WORK" | awk 'NR==2 {print $2}') file system)"
"$BIN/heidi-journal-bench" --dir "$WORK/writer" "$@"

echo "==> heidictl journal verify (whole process, key given, warm cache)"
VERIFY="$WORK/writer/verify"
"$BIN/heidictl" journal verify --key "$VERIFY/journal.key" "$VERIFY/events.jsonl" >/dev/null
start=$(now)
"$BIN/heidictl" journal verify --key "$VERIFY/journal.key" "$VERIFY/events.jsonl" | head -1
elapsed=$(( $(now) - start ))
bytes=$(cat "$VERIFY"/events*.jsonl | wc -c)
echo "    $(( bytes * 1000 / elapsed )) MB/s over $(( bytes / 1000000 )) MB in $(( elapsed / 1000000 )) ms"
start=$(now)
"$BIN/heidictl" journal verify --key "$VERIFY/journal.key" --since-checkpoint "$VERIFY/events.jsonl" >/dev/null
echo "    --since-checkpoint: $(( ($(now) - start) / 1000000 )) ms"

echo "==> heidid, mock mode, $ROUNDS full rounds (generate, validate, train, eval) per fsync policy"
for policy in always batch never; do
    DIR="$WORK/mock-$policy"
    mkdir -p "$DIR"
    cat >"$DIR/heidi.yaml" <<YAML
pipeline: {mode: full, rounds: $ROUNDS}
logs: {journald: false}
limits: {max_cpu_pct: 100, max_mem_pct: 100}
journal: {fsync: $policy}
YAML
    SOCK="$DIR/heidi.sock"
    HEIDI_MOCK_SUBPROCESSES=1 "$BIN/heidid" --config "$DIR/heidi.yaml" --state-dir "$DIR/state" --socket "$SOCK" 2>"$DIR/heidid.log" &
    HEIDID=$!
    for _ in $(seq 200); do "$BIN/heidictl" --socket "$SOCK" status >/dev/null 2>&1 && break; sleep 0.05; done
    before=$(grep -c '' "$DIR/state/events.jsonl")
    start=$(now)
    "$BIN/heidictl" --socket "$SOCK" start >/dev/null  # a mocked run completes before the answer
    "$BIN/heidictl" --socket "$SOCK" wait --state IDLE --timeout 10m >/dev/null
    elapsed=$(( $(now) - start ))
    events=$(( $(grep -c '' "$DIR/state/events.jsonl") - before ))
    stages=$(grep -c '"event_type":"stage_end"' "$DIR/state/events.jsonl")
    kill -TERM "$HEIDID" && wait "$HEIDID" || true
    HEIDID=
    echo "    fsync=$policy: $stages transitions, $events events in $(( elapsed / 1000000 )) ms:" \
        "$(( elapsed / stages / 1000 )) us per transition, $(( elapsed / events / 1000 )) us per event" \
        "(original engine: 800-930 us per transition)"
done
