#!/usr/bin/env bash
# The fleet page in a real browser (issue 18 item 3): headless Chromium driven by Selenium (Debian's chromium,
# chromium-driver, python3-selenium) against a dashboard and one worker on loopback, the worker with its own heidid
# running the demo pipeline and allow_actions on. Never skips: a missing package is an error that names it.
# Usage: contrib/fleet/page-test.sh  (after swift build; make fleet-test runs it)
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v openssl >/dev/null || missing+=(openssl)
/usr/bin/python3 -c "import selenium" 2>/dev/null || missing+=(python3-selenium)
if [ ${#missing[@]} -gt 0 ]; then
    echo "fleet-page-test: missing Debian packages: ${missing[*]} (make web-test-deps installs them)" >&2
    exit 2
fi
BIN=${BIN:-$(swift build --show-bin-path)}
for tool in heidid heidictl heidi-web; do
    [ -x "$BIN/$tool" ] || { echo "fleet-page-test: $BIN/$tool is not built (swift build first)" >&2; exit 2; }
done
exec /usr/bin/python3 contrib/fleet/page_test.py --bin "$BIN" "$@"
