#!/usr/bin/env bash
# heidi-web in a real browser (issue 17): headless Chromium driven by Selenium (Debian's chromium, chromium-driver,
# python3-selenium) against a real heidid running the demo pipeline and a real heidi-web. Prints the screenshot's path.
# Never skips: exits non-zero naming what is missing. Usage: contrib/web/browser-test.sh  (after swift build)
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
/usr/bin/python3 -c "import selenium" 2>/dev/null || missing+=(python3-selenium)
if [ ${#missing[@]} -gt 0 ]; then
    echo "browser-test: missing Debian packages: ${missing[*]} (make web-test installs them: apt-get install -y chromium chromium-driver python3-selenium)" >&2
    exit 2
fi

BIN=${BIN:-$(swift build --show-bin-path)}
for tool in heidid heidictl heidi-web; do
    [ -x "$BIN/$tool" ] || { echo "browser-test: $BIN/$tool is not built (swift build first)" >&2; exit 2; }
done
WORK=${HEIDI_WEB_TEST_DIR:-$(mktemp -d /tmp/heidi-web-test.XXXXXX)}
SOCK="$WORK/heidi.sock"
# Free loopback ports, so runs side by side (or another service on a fixed port) never meet.
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=${HEIDI_WEB_TEST_PORT:-$(free_port)}
EVIL_PORT=$(free_port)

# The demo pipeline, one run of 2 rounds, with a slower train stage (so a browser can watch it) that first prints
# 700 numbered lines (more than the page keeps: it pages back through them) and markup a page must show as text.
sed -e "s|repo_root: ../contrib/demo|repo_root: $PWD/contrib/demo|" -e 's/train_steps: 8 /train_steps: 30 /' config/demo.yaml \
    | /usr/bin/python3 -c '
import sys
text = sys.stdin.read()
old = "    command: [python3, \"{repo_root}/train.py\","
new = ("    command: [sh, -c, \"seq -f filler%g 0 699; echo \\\"<script>window.__xss=1</script><img src=x onerror=window.__xss=2>\\\"; "
       "exec python3 {repo_root}/train.py --step-delay 0.12 \\\"$@\\\"\", train,")
assert old in text
sys.stdout.write(text.replace(old, new))' > "$WORK/heidi.yaml"
/usr/bin/python3 -c 'import secrets; print(secrets.token_urlsafe(18))' > "$WORK/password"
chmod 600 "$WORK/password"

"$BIN/heidid" --config "$WORK/heidi.yaml" --state-dir "$WORK/state" --runtime-dir "$WORK/run" --socket "$SOCK" \
    >"$WORK/heidid.log" 2>&1 &
DAEMON=$!
WEB=
EVIL=
cleanup() {
    status=$?
    [ -n "$EVIL" ] && kill "$EVIL" 2>/dev/null || true
    [ -n "$WEB" ] && kill "$WEB" 2>/dev/null || true
    # heidid must leave within 30 s of SIGTERM; a daemon that does not is a failure, never a hang of the test.
    kill -TERM "$DAEMON" 2>/dev/null || return 0
    for _ in $(seq 300); do kill -0 "$DAEMON" 2>/dev/null || { wait "$DAEMON" 2>/dev/null; return 0; }; sleep 0.1; done
    echo "FAIL: heidid (pid $DAEMON) did not exit within 30 s of SIGTERM; killed (its log: $WORK/heidid.log)" >&2
    kill -KILL "$DAEMON" 2>/dev/null || true
    [ "$status" = 0 ] && exit 1
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
"$BIN/heidi-web" --socket "$SOCK" --listen "127.0.0.1:$PORT" --password-file "$WORK/password" >"$WORK/heidi-web.log" 2>&1 &
WEB=$!
for _ in $(seq 100); do grep -q listening "$WORK/heidi-web.log" 2>/dev/null && break; sleep 0.1; done

# "Another site": a page on another port that POSTs an action to the dashboard with a form (the browser adds
# Origin and Sec-Fetch-Site; SameSite=Strict keeps the cookie home).
mkdir -p "$WORK/evil"
cat > "$WORK/evil/index.html" <<HTML
<!doctype html><form id=f method=post action="http://127.0.0.1:$PORT/api/v1/action/stop"></form>
<script>document.getElementById("f").submit()</script>
HTML
/usr/bin/python3 -m http.server "$EVIL_PORT" --bind 127.0.0.1 --directory "$WORK/evil" >"$WORK/evil.log" 2>&1 &
EVIL=$!

/usr/bin/python3 contrib/web/browser_test.py --url "http://127.0.0.1:$PORT" --evil "http://127.0.0.1:$EVIL_PORT/" \
    --password-file "$WORK/password" --heidictl "$BIN/heidictl" --socket "$SOCK" --journal "$WORK/state/events.jsonl" \
    --screenshot "$WORK/dashboard.png"
