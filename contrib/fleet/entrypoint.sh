#!/bin/sh
# The container's entry point (contrib/fleet/Containerfile): `dashboard` or `worker`.
#   dashboard: heidi-web as the fleet dashboard on 0.0.0.0:7779, TLS with a self-signed certificate made on first start
#              in /var/lib/heidi/tls (shared with workers as their CA file), copies in $HEIDI_FLEET_DIR.
#   worker:    heidid running the demo pipeline (or /etc/heidi/heidi.yaml when mounted) and heidi-web shipping its
#              journal to $DASHBOARD_HOST.
set -eu
role=${1:-worker}
tls=/var/lib/heidi/tls
case "$role" in
dashboard)
    mkdir -p "$tls"
    if [ ! -s "$tls/dashboard.pem" ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 -subj "/CN=dashboard" \
            -addext "subjectAltName=DNS:dashboard,DNS:localhost,IP:127.0.0.1" \
            -keyout "$tls/dashboard.key" -out "$tls/dashboard.pem" 2>/dev/null
    fi
    echo "heidi-container: dashboard certificate $(openssl x509 -in "$tls/dashboard.pem" -noout -fingerprint -sha256)"
    exec heidi-web --listen 0.0.0.0:7779 --socket /var/lib/heidi/no-heidid.sock \
        --tls-cert "$tls/dashboard.pem" --tls-key "$tls/dashboard.key"
    ;;
worker)
    config=/etc/heidi/heidi.yaml
    if [ ! -f "$config" ]; then
        config=/var/lib/heidi/demo.yaml
        sed -e 's|^  repo_root: ../contrib/demo.*|  repo_root: /usr/share/heidi/demo\n  state_dir: /var/lib/heidi/state\n  runtime_dir: /var/lib/heidi/run|' \
            -e 's/autostart: false/autostart: true/' /usr/share/heidi/demo.yaml > "$config"
    fi
    # The worker's dashboard certificate comes from the dashboard's first start.
    for _ in $(seq 60); do [ -s "${DASHBOARD_CA_FILE:-/dev/null}" ] && break; sleep 1; done
    # heidi-web finds the journal through the config's paths.state_dir (web.dashboard.journal overrides it).
    heidid --config "$config" --socket /var/lib/heidi/run/heidi.sock &
    export HEIDI_CONFIG="$config"
    exec heidi-web --listen 127.0.0.1:7779 --socket /var/lib/heidi/run/heidi.sock
    ;;
*)
    echo "heidi-container: unknown role $role (dashboard or worker)" >&2
    exit 2
    ;;
esac
