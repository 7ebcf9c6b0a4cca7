#!/usr/bin/env bash
# The fleet with real hosts (issue 18 item 6): network namespaces joined by veth pairs, one dashboard and three
# workers, each with its own heidid and heidi-web; Debian's prometheus scrapes them all from the dashboard's namespace.
# Needs root, iproute2, openssl, curl and prometheus (make fleet-test-deps installs them). Never skips: a missing tool
# is an error that names it. Usage: contrib/fleet/netns-test.sh  (after swift build)
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
[ "$(id -u)" = 0 ] || { echo "fleet-test: needs root (ip netns)" >&2; exit 2; }
for tool in ip openssl curl prometheus; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ -x /usr/bin/python3 ] || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
    echo "fleet-test: missing: ${missing[*]} (make fleet-test-deps: apt-get install -y iproute2 openssl curl prometheus python3)" >&2
    exit 2
fi
BIN=${BIN:-$(swift build --show-bin-path)}
for tool in heidid heidictl heidi-web; do
    [ -x "$BIN/$tool" ] || { echo "fleet-test: $BIN/$tool is not built (swift build first)" >&2; exit 2; }
done
exec /usr/bin/python3 contrib/fleet/netns_test.py --bin "$BIN" "$@"
