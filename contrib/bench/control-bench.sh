#!/usr/bin/env bash
# Control-plane benchmarks, heidi and its peers side by side in one run (contrib/bench/README.md):
#   - whole-process latency of `heidictl status` vs `supervisorctl status`, `s6-svstat`, `systemctl is-active`,
#     and the ratio to s6-svstat from interleaved runs of the two (bench.c pair)
#   - request round trip on one persistent connection: GET /api/v1/status vs supervisord's XML-RPC getState and a
#     C floor (bench.c serve), on two CPUs and pinned to one
#   - resident memory of the idle daemon with one running child: heidid vs supervisord
# Builds static release binaries into .build-release (or measures heidid and heidictl in BIN_DIR, for before/after
# pairs); installs supervisor (pip) and s6 (apt) when missing.
set -euo pipefail
export HEIDI_STATIC_LINK=1  # measure the installed binaries' link (Package.swift), as `make release` builds them
cd "$(dirname "$0")/../.."
N_SPAWN=${N_SPAWN:-200}
N_RTT=${N_RTT:-5000}
N_PAIR=${N_PAIR:-400}
ROUNDS=${ROUNDS:-3}

if [ -n "${BIN_DIR:-}" ]; then
    BIN=$BIN_DIR
else
    echo "==> building release binaries (static Swift stdlib)"
    swift build -c release --static-swift-stdlib --scratch-path .build-release --product heidid >/dev/null
    swift build -c release --static-swift-stdlib --scratch-path .build-release --product heidictl >/dev/null
    BIN=$(swift build -c release --scratch-path .build-release --show-bin-path)
fi
contrib/bench/machine-facts.sh
python3 -c 'import supervisor' 2>/dev/null || python3 -m pip install -q supervisor
command -v s6-svstat >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq s6 >/dev/null 2>&1 || true; }
WORK=$(mktemp -d /tmp/heidi-bench.XXXXXX)
PROBE="$WORK/bench"
cc -O2 -o "$PROBE" contrib/bench/bench.c

cleanup() {
    [ -n "${HEIDID:-}" ] && kill -TERM "$HEIDID" 2>/dev/null && wait "$HEIDID" 2>/dev/null
    [ -f "$WORK/supervisord.pid" ] && kill -TERM "$(cat "$WORK/supervisord.pid")" 2>/dev/null
    [ -n "${S6PID:-}" ] && kill "$S6PID" 2>/dev/null
    [ -n "${FLOOR:-}" ] && kill "$FLOOR" 2>/dev/null
    sleep 0.5
    rm -rf "$WORK"
}
trap cleanup EXIT

# heidid with one running, quiet child.
SOCK="$WORK/heidi.sock"
"$BIN/heidid" --config contrib/bench/idle-child.yaml --state-dir "$WORK/state" --socket "$SOCK" 2>"$WORK/heidid.log" &
HEIDID=$!
for _ in $(seq 100); do "$BIN/heidictl" --socket "$SOCK" status >/dev/null 2>&1 && break; sleep 0.05; done
"$BIN/heidictl" --socket "$SOCK" start >/dev/null

# supervisord with one child on a Unix socket.
cat >"$WORK/supervisord.conf" <<CONF
[unix_http_server]
file=$WORK/supervisor.sock
[supervisord]
pidfile=$WORK/supervisord.pid
logfile=$WORK/supervisord.log
nodaemon=false
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://$WORK/supervisor.sock
[program:sleeper]
command=sleep 600
CONF
python3 -m supervisor.supervisord -c "$WORK/supervisord.conf"
for _ in $(seq 100); do [ -S "$WORK/supervisor.sock" ] && python3 -m supervisor.supervisorctl -c "$WORK/supervisord.conf" status >/dev/null 2>&1 && break; sleep 0.1; done
SUPERVISORCTL=$(python3 -c 'import shutil; print(shutil.which("supervisorctl") or "")')
sleep 1

# heidictl in the two states the page cache can hold an executable in (contrib/bench/README.md, "heidictl and the
# page cache"): "installed" is a copy written with write(2), as `make install` and dpkg leave it, held in large
# folios; "paged in" was dropped from the cache and read back by exec's page faults, as after a reboot, in 4 KiB
# folios, which cost more to map and unmap on every run. The linker's own output is in the second state too.
mkdir -p "$WORK/installed" "$WORK/paged-in"
install -m 0755 "$BIN/heidictl" "$WORK/installed/heidictl"
install -m 0755 "$BIN/heidictl" "$WORK/paged-in/heidictl"
sync "$WORK/paged-in/heidictl"
python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' \
    "$WORK/paged-in/heidictl"
"$WORK/paged-in/heidictl" --socket "$SOCK" status >/dev/null

echo
echo "== whole-process latency of a status command (posix_spawn + wait, stdout to /dev/null)"
for state in installed paged-in; do
    printf '%-34s %s\n' "heidictl status ($state)" "$("$PROBE" spawn "$N_SPAWN" "$WORK/$state/heidictl" --socket "$SOCK" status)"
done
if [ -n "$SUPERVISORCTL" ]; then
    printf '%-34s ' "supervisorctl status"; "$PROBE" spawn 30 "$SUPERVISORCTL" -c "$WORK/supervisord.conf" status
fi
if command -v s6-svscan >/dev/null && command -v s6-svstat >/dev/null; then
    mkdir -p "$WORK/s6/sleeper"
    printf '#!/bin/sh\nexec sleep 600\n' >"$WORK/s6/sleeper/run"
    chmod +x "$WORK/s6/sleeper/run"
    s6-svscan "$WORK/s6" >/dev/null 2>&1 &
    S6PID=$!
    sleep 1
    S6_LINE=$("$PROBE" spawn "$N_SPAWN" "$(command -v s6-svstat)" "$WORK/s6/sleeper")
    printf '%-34s %s\n' "s6-svstat" "$S6_LINE"
fi
if command -v systemctl >/dev/null; then
    printf '%-34s ' "systemctl is-active (no PID-1 systemd)"; "$PROBE" spawn "$N_SPAWN" "$(command -v systemctl)" is-active heidi 2>/dev/null || true
fi

if [ -n "${S6_LINE:-}" ]; then
    # The ratio is taken from runs of the two side by side (AB, BA, ...): blocks of runs one after the other
    # compared a quiet minute with a busy one, and the ratio of such p50s swung between 0.4x and 4.6x.
    for state in installed paged-in; do
        PAIR_LINE=$("$PROBE" pair "$N_PAIR" "$WORK/$state/heidictl" --socket "$SOCK" status -- "$(command -v s6-svstat)" "$WORK/s6/sleeper")
        printf '%-34s %s\n' "interleaved: heidictl (A, $state), s6 (B)" "$PAIR_LINE"
        printf '%-34s %s s6-svstat (median of %s interleaved pairs)\n' "heidictl status ($state)" \
            "$(sed 's/.*A\/B median \([0-9.]*x\).*/\1/' <<<"$PAIR_LINE")" "$N_PAIR" >>"$WORK/ratios"
    done
fi

echo
echo "== one persistent connection: request round trip (p50 of $N_RTT requests; $ROUNDS rounds, servers in turn)"
# The floor is bench.c's canned answer of the same size: one thread, epoll, no parsing. On a VM, waking an idle
# CPU costs tens of microseconds, and a client and server on two CPUs pay it twice per request: the floor shows
# what no server can go below. Three placements: "two CPUs" as the scheduler places them (it keeps a thread on the
# CPU it last ran on while that CPU is idle, so a client and a server land together or apart by chance and stay
# so for the round); "apart", the servers on CPU 0 and the client on CPU 1, every request crossing; and "one CPU",
# all on CPU 0, which leaves each server's own work per request (plus two context switches).
printf 'GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n' >"$WORK/status.http"
XML='<?xml version="1.0"?><methodCall><methodName>supervisor.getState</methodName><params></params></methodCall>'
printf 'POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s' "${#XML}" "$XML" >"$WORK/getstate.http"
STATUS_BYTES=$("$BIN/heidictl" --socket "$SOCK" --json status | wc -c)
"$PROBE" serve "$WORK/floor.sock" "$STATUS_BYTES" &
FLOOR=$!
SUPERVISORD=$(cat "$WORK/supervisord.pid")
sleep 0.2
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
placements=("two CPUs" "one CPU")
[ "$(nproc)" -ge 2 ] && placements=("two CPUs" "apart" "one CPU")
for placement in "${placements[@]}"; do
    pin=()
    case "$placement" in
        apart) pin=(taskset -c 1) ;;
        "one CPU") pin=(taskset -c 0) ;;
    esac
    if [ "$placement" != "two CPUs" ]; then
        for pid in "$HEIDID" "$SUPERVISORD" "$FLOOR"; do taskset -a -p -c 0 "$pid" >/dev/null; done
    fi
    : >"$WORK/heidid.rtt"; : >"$WORK/supervisord.rtt"; : >"$WORK/floor.rtt"
    for _ in $(seq "$ROUNDS"); do
        "${pin[@]}" "$PROBE" rtt "$SOCK" "$WORK/status.http" "$N_RTT" | awk '{print $2}' >>"$WORK/heidid.rtt"
        "${pin[@]}" "$PROBE" rtt "$WORK/supervisor.sock" "$WORK/getstate.http" 2000 | awk '{print $2}' >>"$WORK/supervisord.rtt"
        "${pin[@]}" "$PROBE" rtt "$WORK/floor.sock" "$WORK/status.http" "$N_RTT" | awk '{print $2}' >>"$WORK/floor.rtt"
    done
    H=$(median <"$WORK/heidid.rtt"); S=$(median <"$WORK/supervisord.rtt"); F=$(median <"$WORK/floor.rtt")
    printf '%-9s heidid %s us (%s)  supervisord getState %s us (%s)  floor %s us (%s)\n' "$placement:" \
        "$H" "$(paste -sd/ "$WORK/heidid.rtt")" "$S" "$(paste -sd/ "$WORK/supervisord.rtt")" \
        "$F" "$(paste -sd/ "$WORK/floor.rtt")"
    awk -v h="$H" -v s="$S" -v f="$F" -v p="$placement" 'BEGIN {
        printf "%-9s heidid %.2fx faster than supervisord (the floor: %.2fx); above the floor: heidid %.1f us, supervisord %.1f us (%.1fx)\n",
            p ":", s / h, s / f, h - f, s - f, (s - f) / (h > f ? h - f : 0.1) }'
done
for pid in "$HEIDID" "$SUPERVISORD"; do taskset -a -p -c "0-$(($(nproc) - 1))" "$pid" >/dev/null; done
kill "$FLOOR"

echo
echo "== ratios (targets: heidictl status <= 1.5x s6-svstat, round trip >= 5x faster than supervisord)"
[ -f "$WORK/ratios" ] && cat "$WORK/ratios"
echo "GET /api/v1/status round trip      see above, per placement"

echo
echo "== resident memory, idle daemon with one running child"
rss() { awk '/VmRSS/ {printf "%.1f MiB\n", $2/1024}' "/proc/$1/status"; }
printf '%-34s %s\n' "heidid" "$(rss "$HEIDID")"
printf '%-34s %s\n' "supervisord" "$(rss "$(cat "$WORK/supervisord.pid")")"
