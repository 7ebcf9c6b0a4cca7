#!/usr/bin/env bash
# Fleet benchmarks (issue 18 item 7; contrib/bench/README.md): replication throughput and catch-up after a 100,000-event
# backlog, worker to dashboard over TLS on loopback, each copy verified byte for byte and by `heidictl journal verify`;
# the dashboard's RSS with 3 and with 50 simulated workers. heidi-web is built in release mode (BUILD=debug to skip).
# Usage: contrib/bench/fleet-bench.sh [--backlog N] [--live N]
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=${BUILD:-release}
echo "==> building heidi-web ($CONFIG) and heidictl"
swift build -c "$CONFIG" --product heidi-web >/dev/null
swift build --product heidictl >/dev/null
WEB="$(swift build -c "$CONFIG" --show-bin-path)/heidi-web"
CTL="$(swift build --show-bin-path)/heidictl"
echo "==> $(nproc) cores, $(uname -r); heidi-web $CONFIG"
exec /usr/bin/python3 contrib/bench/fleet_bench.py --web "$WEB" --ctl "$CTL" "$@"
