#!/usr/bin/env bash
# The README's demo: builds heidid and heidictl, starts the daemon on the bundled demo pipeline in a temporary
# directory, runs 2 full rounds of real child processes, and shows status, events, a stage log and the journal check.
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "==> building heidid and heidictl"
swift build --product heidid >/dev/null
swift build --product heidictl >/dev/null
swift build --product heidi-web >/dev/null
BIN=$(swift build --show-bin-path)
WORK=${HEIDI_DEMO_DIR:-$(mktemp -d /tmp/heidi-demo.XXXXXX)}
SOCK="$WORK/heidi.sock"
ctl() { "$BIN/heidictl" --socket "$SOCK" "$@"; }

echo "==> starting heidid (state in $WORK/state, log in $WORK/heidid.log)"
"$BIN/heidid" --config config/demo.yaml --state-dir "$WORK/state" --socket "$SOCK" >"$WORK/heidid.log" 2>&1 &
DAEMON=$!
FOLLOWER=
WEB=
cleanup() {
    [ -n "$FOLLOWER" ] && kill "$FOLLOWER" 2>/dev/null || true
    [ -n "$WEB" ] && kill "$WEB" 2>/dev/null || true
    kill -TERM "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
ctl status >/dev/null

# The dashboard (heidi-web) on a free loopback port, with a generated password.
python3 -c 'import secrets; print(secrets.token_urlsafe(18))' > "$WORK/web-password"
chmod 600 "$WORK/web-password"
"$BIN/heidi-web" --socket "$SOCK" --listen 127.0.0.1:${HEIDI_DEMO_WEB_PORT:-0} --password-file "$WORK/web-password" \
    >"$WORK/heidi-web.log" 2>&1 &
WEB=$!
for _ in $(seq 100); do grep -q listening "$WORK/heidi-web.log" 2>/dev/null && break; sleep 0.05; done
WEB_URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/heidi-web.log" | head -1)
echo "==> dashboard: $WEB_URL/  user operator, password $(cat "$WORK/web-password")  (log in $WORK/heidi-web.log)"

echo "==> heidictl start --mode full --rounds 2 (live events follow)"
"$BIN/heidictl" --socket "$SOCK" events --follow &
FOLLOWER=$!
ctl start --mode full --rounds 2 >/dev/null
for _ in $(seq 600); do
    state=$(ctl --json status || true)
    case "$state" in
    *'"state":"ERROR"'*) echo "demo run failed:"; ctl status || true; exit 1 ;;
    *'"state":"IDLE"'*) break ;;
    esac
    sleep 0.2
done
sleep 0.3
kill "$FOLLOWER" 2>/dev/null || true
wait "$FOLLOWER" 2>/dev/null || true
FOLLOWER=

echo
echo "==> heidictl status"
ctl status
echo
echo "==> what the stages counted (stage_end counters_delta of round 2: their own X_HEIDI_COUNTERS, sent over"
echo "    HEIDI_NOTIFY_SOCKET, next to heidid's output counts)"
python3 - "$WORK/state/events.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    event = json.loads(line)
    if event["event_type"] == "stage_end" and event["round"] == 2:
        counters = " ".join(f"{k}={v:g}" for k, v in sorted(event["counters_delta"].items()))
        print(f"  {event['stage']:<9} {counters}")
PY
echo
echo "==> heidictl logs train --round 2 -n 4"
ctl logs train --round 2 -n 4
echo
if command -v chromium >/dev/null && command -v chromedriver >/dev/null && /usr/bin/python3 -c "import selenium" 2>/dev/null; then
    /usr/bin/python3 contrib/web/screenshot.py "$WEB_URL/" "$WORK/web-password" "$WORK/dashboard.png" \
        && echo "==> dashboard screenshot: $WORK/dashboard.png"
else
    echo "==> no dashboard screenshot: install chromium chromium-driver python3-selenium (make web-test-deps) for one"
fi
kill "$WEB" 2>/dev/null || true
WEB=
echo
echo "==> stopping heidid (SIGTERM) and verifying the journal offline"
kill -TERM "$DAEMON"
wait "$DAEMON" || true
"$BIN/heidictl" journal verify "$WORK/state/events.jsonl"
echo
echo "Artifacts of the run: $(ls -d "$WORK"/state/runs/*)"
ls "$WORK"/state/runs/*/data "$WORK"/state/runs/*/eval 2>/dev/null | sed 's/^/  /'
