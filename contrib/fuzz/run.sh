#!/usr/bin/env bash
# Bounded libFuzzer session on the control request path (NIO's HTTP decoder → heidid's router and body decoding).
#   contrib/fuzz/run.sh [SECONDS]      (default 60)
# Builds heidi-fuzz with -sanitize=fuzzer into .build-fuzz, fuzzes a scratch copy of contrib/fuzz/corpus, and fails
# if libFuzzer finds a crash, a trap or a timeout. A crashing input is copied to contrib/fuzz/corpus/regressions/,
# which `swift test` replays from then on (commit it with the fix).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-60}
echo "==> building heidi-fuzz with libFuzzer (scratch path .build-fuzz)"
swift build --scratch-path .build-fuzz -c release --product heidi-fuzz \
    -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING >/dev/null
BIN=$(swift build --scratch-path .build-fuzz -c release --show-bin-path)/heidi-fuzz
WORK=$(mktemp -d /tmp/heidi-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cp contrib/fuzz/corpus/*.http "$WORK/" 2>/dev/null || true
mkdir -p "$WORK/artifacts"
echo "==> fuzzing for ${SECONDS_TO_RUN}s"
status=0
"$BIN" -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    -artifact_prefix="$WORK/artifacts/" -print_final_stats=1 "$WORK" 2>&1 | tail -n 25 || status=$?
if compgen -G "$WORK/artifacts/*" >/dev/null; then
    mkdir -p contrib/fuzz/corpus/regressions
    cp "$WORK"/artifacts/* contrib/fuzz/corpus/regressions/
    echo "fuzz: crashing input(s) saved to contrib/fuzz/corpus/regressions/:" $(ls "$WORK/artifacts")
    exit 1
fi
[ "$status" = 0 ] || { echo "fuzz: libFuzzer exited with $status"; exit "$status"; }
echo "fuzz: no crash in ${SECONDS_TO_RUN}s"
