# The assertions of the systemd end-to-end test, sourced by run.sh inside its mount namespace once the container has
# booted. Available from run.sh: IN / IN_T SECONDS (run inside the container), $work (host scratch directory),
# $here; from lib.sh: step, log, check, pass, fail, wait_until.
#
# Scenarios, in order (each one leaves the service in a known state for the next):
#   install    dpkg -i of the .deb: what its postinst did (user, tmpfiles, units enabled and started, heidi-web
#              not), conffiles, the unit as loaded, systemd-analyze; then the demo config replaces the sample
#   start      systemctl start: READY, active, Status: line, runs as heidi, per-stage cgroups available
#   demo       the demo pipeline (2 full rounds of the real stage scripts) run to completion with heidictl
#   journald   journalctl -u heidi -o json: event mirror fields, child output fields, MESSAGE_ID queries, own logs
#   reload     systemctl reload: same process, READY again, config_reloaded; a broken config is refused
#   stop       systemctl stop during a running stage: nothing of the service is left in its cgroup
#   watchdog   SIGSTOP on heidid: watchdog abort, restart, run recovered, journal chain intact
#   socket     heidi.socket: the first heidictl starts the service; heidictl keeps working across restarts
#   upgrade    dpkg -i again while heidid works: not restarted, the edited conffile kept, modes kept
#   final      journal chain intact, no failed units
#   purge      dpkg --purge: nothing of the package left but what policy keeps (user and group heidi)

out=$work/out
checks() { python3 "$here/checks.py" "$@"; }
prop() { IN_T 15 systemctl show heidi.service -p "$1" --value; }
ctl_json() { # ctl_json NAME ARGS...: heidictl --json ARGS inside, stdout into $out/NAME.json
    local name=$1
    shift
    IN_T 30 heidictl --json "$@" >"$out/$name.json"
}
events_now() { IN_T 15 cat /var/lib/heidi/events.jsonl >"$out/events.jsonl"; }
count_events() { events_now && checks events "$out/events.jsonl" "$@"; }
journal_json() { IN_T 30 journalctl --no-pager -o json "$@"; }
# A point in time (the container shares the host's clock), and what systemd (PID 1) logged about heidi.service since.
# (Not --after-cursor: with a match that the cursor's own entry does not satisfy, journalctl 252 skips the first
# matching entry after it.)
journal_mark() { date +@%s.%06N; }
pid1_says_since() { IN_T 15 journalctl --no-pager -o cat -u heidi.service _PID=1 --since="$1"; }

# Assertion helpers (bash functions, so that they can wrap IN): on failure they print what they saw.
out_has() { # out_has ERE cmd...: the command succeeds and its output matches
    local pattern=$1 o
    shift
    o=$("$@" 2>&1) || { echo "$o"; return 1; }
    grep -qE -- "$pattern" <<<"$o" || { echo "output does not match /$pattern/:"; tail -n 15 <<<"$o"; return 1; }
}
out_lacks() { # out_lacks ERE cmd...: the command succeeds and no line of its output matches
    local pattern=$1 o
    shift
    o=$("$@" 2>&1) || { echo "$o"; return 1; }
    ! grep -E -- "$pattern" <<<"$o"
}
out_is() { # out_is VALUE cmd...: the command's output is VALUE (its exit status does not matter)
    local want=$1 o
    shift
    o=$("$@" 2>&1) || true
    [ "$o" = "$want" ] || { echo "got '$o', expected '$want'"; return 1; }
}
out_empty() { # out_empty cmd...: the command succeeds and prints nothing
    local o
    o=$("$@" 2>&1) || { echo "$o"; return 1; }
    [ -z "$o" ] || { echo "$o"; return 1; }
}
# pid_gone PID: no process PID in the container (a failing nsenter is not mistaken for "gone").
pid_gone() { out_is gone IN sh -c 'if [ -e "/proc/$1" ]; then echo "present: $(cat /proc/$1/cmdline | tr "\0" " ")"; else echo gone; fi' sh "$1"; }
has_line() { grep -qxF -- "$1" "$2" || { echo "no line '$1' in $2:"; cat "$2"; return 1; }; }
out_lines() { # out_lines N cmd...: the command succeeds and prints exactly N lines
    local n=$1 o
    shift
    o=$("$@" 2>&1) || { echo "$o"; return 1; }
    [ "$(grep -c . <<<"$o")" = "$n" ] || { echo "expected $n lines, got:"; tail -n 15 <<<"$o"; return 1; }
}
matches() { [[ $2 =~ $1 ]] || { echo "'$2' does not match /$1/"; return 1; }; }

# Cgroup v2 mount point inside the container (/sys/fs/cgroup on a unified system).
cg_mount() { IN_T 10 findmnt -n -o TARGET -t cgroup2 | head -n 1; }
# All pids in a cgroup directory (inside the container) and its descendants.
cg_pids() { IN_T 15 sh -c 'for f in $(find "$1" -name cgroup.procs 2>/dev/null); do cat "$f"; done' sh "$1" 2>/dev/null | sort -n; }
# cg_state DIR: "removed" (the cgroup is gone), "empty" (no process in it or below), or the pids left.
cg_state() {
    IN_T 15 sh -c 'if [ ! -e "$1" ]; then echo removed; exit; fi
        pids=$(for f in $(find "$1" -name cgroup.procs); do cat "$f"; done)
        if [ -z "$pids" ]; then echo empty; else echo "pids left: $pids"; fi' sh "$1"
}

# Every path of the container's root file system (its own mounts only) except the volatile and the test's own: the
# purge scenario compares the list after purge with the one taken before the install.
PATHS_PRUNED='/proc /sys /dev /run /tmp /var/tmp /var/log /var/cache /var/lib/dpkg /var/lib/apt /opt/heidi-e2e /opt/heidi-demo'
list_paths() {
    IN_T 60 sh -c 'args=""; for p in $1; do args="$args -path $p -prune -o"; done
        find / -xdev $args -print | sort' sh "$PATHS_PRUNED"
}
# What the package may leave behind on purge, and why (docs/packaging.md): the system user and group heidi stay (a
# freed uid could be reused by an account that then owns heidi's leftover files, so Debian never deletes system
# users), and with them the backups systemd-sysusers writes of the files it edited.
PURGE_KEEPS='^/etc/(passwd|group|shadow|gshadow)-$'

scenario_install() {
    step "install: dpkg -i heidi.deb, what its maintainer scripts did, the unit as systemd loads it"
    list_paths >"$out/paths-before-install.txt"
    local version perms
    version=$(dpkg-deb -f "$work/payload/opt/heidi-e2e/heidi.deb" Version)
    check "dpkg -i heidi.deb (version $version)" IN_T 120 dpkg -i /opt/heidi-e2e/heidi.deb
    check "dpkg knows heidi as installed" out_is "install ok installed $version" IN dpkg-query -W -f '${Status} ${Version}' heidi
    check "postinst: systemd-sysusers created user heidi (getent passwd heidi)" IN getent passwd heidi
    check "postinst: the user heidi is a system user with home /var/lib/heidi and no login shell" \
        out_has '^heidi:x:[0-9]{1,3}:[0-9]{1,3}:[^:]*:/var/lib/heidi:/(usr/)?s?bin/nologin$' IN getent passwd heidi
    perms=$(IN stat -c '%a %U %G' /etc/heidi /etc/heidi/heidi.yaml | paste -sd' ' -)
    check "postinst: tmpfiles.d made /etc/heidi 750 root:heidi and heidi.yaml 640 root:heidi (got '$perms')" \
        test "$perms" = "750 root heidi 640 root heidi"
    check "dpkg lists /etc/heidi/heidi.yaml and collect.yaml as conffiles" \
        out_lines 2 IN sh -c "dpkg-query -W -f '\${Conffiles}\n' heidi | grep -E '^ /etc/heidi/(heidi|collect)\.yaml '"
    check "postinst enabled heidi.service and heidi.socket" out_is "$(printf 'enabled\nenabled')" \
        IN systemctl is-enabled heidi.service heidi.socket
    check "postinst started heidi.socket" out_is active IN systemctl is-active heidi.socket
    check "postinst started heidi.service (heidid idles with the sample config)" \
        wait_until 30 "heidi.service active" IN_T 5 systemctl is-active --quiet heidi.service
    check "heidi-web.service is neither enabled nor started (it needs the operator's password first)" \
        out_is "$(printf 'disabled\ninactive')" IN sh -c 'systemctl is-enabled heidi-web.service; systemctl is-active heidi-web.service'
    check "heidictl status answers the installed daemon" IN heidictl status
    check "heidid --version is the package's version ($version)" out_is "$version" IN /usr/bin/heidid --version
    check "man heidictl, heidid, heidi-exec pages and bash completions are installed" \
        IN test -s /usr/share/man/man1/heidictl.1.gz -a -s /usr/share/man/man1/heidid.1.gz \
        -a -s /usr/share/man/man1/heidi-exec.1.gz -a -s /usr/share/bash-completion/completions/heidictl
    check "systemd-analyze verify heidi.service heidi.socket (no warnings)" \
        out_empty IN systemd-analyze verify /lib/systemd/system/heidi.service /lib/systemd/system/heidi.socket
    IN systemd-analyze security heidi.service --no-pager >"$out/security-online.txt" 2>&1 || true
    check "systemd-analyze security heidi.service (as loaded by PID 1): exposure <= 2.0" \
        checks exposure "$out/security-online.txt" 2.0
    IN systemd-analyze security --offline=yes --threshold=20 /lib/systemd/system/heidi.service \
        >"$out/security-offline.txt" 2>&1 || true
    check "systemd-analyze security --offline=yes --threshold=20 on the installed unit: exposure <= 2.0" \
        checks exposure "$out/security-offline.txt" 2.0
    check "heidid --check-config accepts the installed sample config (as user heidi)" \
        IN setpriv --reuid=heidi --regid=heidi --init-groups /usr/bin/heidid --check-config --config /etc/heidi/heidi.yaml
    # The scenarios below run the demo pipeline: its config replaces the sample (an edited conffile, as an operator's
    # would be), and the service the postinst started with the sample stops so that `start` starts it anew.
    check "install the demo config as /etc/heidi/heidi.yaml" \
        IN sh -c 'cat /opt/heidi-e2e/heidi-demo.yaml > /etc/heidi/heidi.yaml'
    check "heidid --check-config accepts the demo config (as user heidi)" \
        IN setpriv --reuid=heidi --regid=heidi --init-groups /usr/bin/heidid --check-config --config /etc/heidi/heidi.yaml
    check "systemctl stop heidi.service (started by postinst with the sample config)" IN systemctl stop heidi.service
}

unit_properties() {
    # The unit as loaded (WatchdogUSec is only known once the service has started): what SPEC §9 asks of it.
    IN systemctl show heidi.service -p Type -p NotifyAccess -p WatchdogUSec -p Restart -p RestartUSec \
        -p StartLimitBurst -p StartLimitIntervalUSec -p KillMode -p TimeoutStopUSec -p RuntimeDirectory \
        -p StateDirectory -p User -p Group -p Delegate -p DevicePolicy -p ProtectSystem -p NoNewPrivileges \
        >"$out/unit-properties.txt"
    local want
    for want in Type=notify NotifyAccess=main WatchdogUSec=30s Restart=on-failure RestartUSec=5s StartLimitBurst=5 \
        StartLimitIntervalUSec=10min KillMode=mixed TimeoutStopUSec=3min RuntimeDirectory=heidi StateDirectory=heidi \
        User=heidi Group=heidi Delegate=yes DevicePolicy=closed ProtectSystem=strict NoNewPrivileges=yes; do
        check "loaded unit has $want" has_line "$want" "$out/unit-properties.txt"
    done
    IN systemctl show heidi.service -p ExecReload -p DeviceAllow >"$out/unit-properties2.txt"
    check "ExecReload sends SIGHUP to the main process" grep -q 'ExecReload=.*kill -HUP \$MAINPID' "$out/unit-properties2.txt"
    check "DeviceAllow lets the service use NVIDIA GPUs" grep -q 'DeviceAllow=.*char-nvidia-frontend rw' "$out/unit-properties2.txt"
}

scenario_start() {
    step "start: systemctl start heidi"
    local t
    t=$(ts_ns)
    check "systemctl start heidi (returns once heidid sent READY=1)" IN systemctl start heidi
    log "start took $(ms_since "$t") ms"
    check "heidi.service is active" IN systemctl is-active --quiet heidi.service
    IN systemctl status heidi.service --no-pager -l >"$out/status-start.txt" 2>&1 || true
    sed -n '1,12p' "$out/status-start.txt" | sed 's/^/        /'
    check "systemctl status heidi shows heidid's Status: line" grep -qE '^ *Status: "IDLE' "$out/status-start.txt"
    MAINPID=$(prop MainPID)
    check "MainPID is set ($MAINPID)" test "${MAINPID:-0}" -gt 0
    local uid
    uid=$(IN awk '/^Uid:/ { print $2 }' "/proc/$MAINPID/status" || true)
    check "heidid runs as user heidi (uid $uid)" test "$uid" = "$(IN id -u heidi)"
    unit_properties
    check "heidictl status answers inside the container" IN heidictl status
    check "curl --unix-socket /run/heidi/heidi.sock /api/v1/health says ok" \
        out_has '"ok":true' IN curl -sS --max-time 10 --unix-socket /run/heidi/heidi.sock http://localhost/api/v1/health
    ctl_json status-start status || true
    local supervision
    supervision=$(checks get "$out/status-start.json" supervision || true)
    check "stages get their own cgroups under Delegate=yes (supervision '$supervision')" \
        matches '^cgroup2\+' "$supervision"
}

scenario_demo() {
    step "demo: the demo pipeline (2 full rounds of contrib/demo) driven by heidictl"
    local t run
    t=$(ts_ns)
    check "heidictl start --mode full --rounds 2" IN heidictl start --mode full --rounds 2
    ctl_json status-demo-started status || true
    run=$(checks get "$out/status-demo-started.json" run_id || true)
    DEMO_RUN=$run
    check "the run has an id ($run)" matches '^run_[0-9]{8}_[0-9]{6}' "$run"
    check "heidictl wait --state IDLE: the run finished (at most 180 s)" IN_T 200 heidictl wait --state IDLE --timeout 180s
    log "demo run took $(ms_since "$t") ms"
    ctl_json status-demo-done status || true
    check "after the run: state IDLE" out_is IDLE checks get "$out/status-demo-done.json" state
    check "after the run: no last_error" out_is null checks get "$out/status-demo-done.json" last_error
    check "journal has pipeline_complete for $run" out_is 1 count_events pipeline_complete "$run"
    check "journal has 10 stage_end for $run (5 stages x 2 rounds)" out_is 10 count_events stage_end "$run"
    check "the run's eval report of round 2 exists" IN test -s "/var/lib/heidi/runs/$run/eval/report_round_2.json"
    check "heidictl logs train --round 2 shows the training steps" \
        out_has 'step 8/8 loss=' IN heidictl logs train --round 2 -n 5
}

scenario_journald() {
    step "journald: what journalctl -u heidi holds"
    journal_json -u heidi.service >"$out/journal-demo.json"
    events_now
    log "journalctl -u heidi: $(wc -l <"$out/journal-demo.json") entries; events.jsonl: $(wc -l <"$out/events.jsonl") lines"
    check "every journal event is in journald with MESSAGE_ID, PRIORITY, HEIDI_EVENT_TYPE/SEQ/HASH/RUN_ID/ROUND/STAGE" \
        checks event-mirror "$out/journal-demo.json" "$out/events.jsonl" heidi.service
    check "child output of every stage is in journald with HEIDI_STAGE/ROUND/RUN_ID/CHILD_PID and SYSLOG_IDENTIFIER=heidi-<stage>" \
        checks child-lines "$out/journal-demo.json" "$out/events.jsonl" "$DEMO_RUN" 2 generate validate test train eval
    check "journalctl -u heidi HEIDI_STAGE=train finds the training output" \
        out_has 'step 8/8 loss=' IN journalctl -u heidi --no-pager -o cat HEIDI_STAGE=train
    local id
    id=$(python3 -c 'import hashlib; print(hashlib.sha256(b"heidi.event.pipeline_complete").hexdigest()[:32])')
    check "journalctl MESSAGE_ID=<pipeline_complete> HEIDI_RUN_ID=$DEMO_RUN finds the completed run" \
        out_lines 1 IN journalctl --no-pager -o cat MESSAGE_ID="$id" HEIDI_RUN_ID="$DEMO_RUN"
    check "heidid's own logs are structured journald entries (HEIDI_LOGGER, CODE_*), no plain stderr" \
        checks own-logs "$out/journal-demo.json" "$MAINPID"
    check "heidictl journal verify --journald: chain intact and every line matches journald's HEIDI_HASH" \
        IN heidictl journal verify --journald
}

scenario_reload() {
    step "reload: systemctl reload heidi"
    local before after reloads
    reloads=$(count_events config_reloaded)
    # The next scenarios need a stage that runs for a while: switch to a slower train stage by reloading.
    check "install a new configuration (slower train stage)" \
        IN sh -c 'cat /opt/heidi-e2e/heidi-slow-train.yaml > /etc/heidi/heidi.yaml'
    before=$(prop MainPID)
    check "systemctl reload heidi" IN systemctl reload heidi
    after=$(prop MainPID)
    check "still active after reload" IN systemctl is-active --quiet heidi.service
    check "same main process after reload (pid $before -> $after)" test "$before" = "$after"
    check "no restart happened (NRestarts=0)" test "$(prop NRestarts)" = 0
    check "SubState is running again (READY=1 after RELOADING=1)" test "$(prop SubState)" = running
    check "journal has one more config_reloaded event" out_is $((reloads + 1)) count_events config_reloaded
    check "systemd logged the reload of heidi.service" \
        out_has 'Reloaded heidi.service' IN journalctl -u heidi --no-pager -o cat _PID=1

    check "install a broken configuration (rounds: many)" \
        IN sh -c 'cat /opt/heidi-e2e/heidi-broken.yaml > /etc/heidi/heidi.yaml'
    check "systemctl reload heidi with a broken config" IN systemctl reload heidi
    check "still active after a refused reload" IN systemctl is-active --quiet heidi.service
    check "same process after a refused reload" out_is "$before" prop MainPID
    check "the journal recorded the refused reload (config_reloaded, level error, names the key)" \
        out_has '"level":"error","event_type":"config_reloaded","message":"reload refused[^"]*rounds' \
        IN tail -n 1 /var/lib/heidi/events.jsonl
    check "heidid logged why it refused the reload (names the key)" \
        out_has 'rounds' IN journalctl -u heidi --no-pager -o cat -p warning --since=-60s
    check "restore the slow-train configuration and reload" \
        IN sh -c 'cat /opt/heidi-e2e/heidi-slow-train.yaml > /etc/heidi/heidi.yaml && systemctl reload heidi'
    check "state is still IDLE after the reloads" out_has '"state":"IDLE"' IN heidictl --json status
}

# Waits (bounded) until train runs: sets TRAIN_PID from heidictl's status.
wait_for_train() {
    TRAIN_PID=""
    if ! IN_T 70 heidictl wait --state FINALIZING --timeout 60s >/dev/null; then
        fail "the run did not reach FINALIZING (train) within 60 s"
        return 1
    fi
    ctl_json status-train status || true
    TRAIN_PID=$(checks get "$out/status-train.json" child.pid || true)
    [ "$TRAIN_PID" != null ] && [ -n "$TRAIN_PID" ] || { fail "no child pid while FINALIZING"; return 1; }
}

scenario_stop() {
    step "stop: systemctl stop heidi while a stage runs"
    local run cg mount pids p t mark stagecg escaper
    check "heidictl start --mode full --rounds 1" IN heidictl start --mode full --rounds 1
    wait_for_train || return 0
    run=$(checks get "$out/status-train.json" run_id)
    check "the running train stage uses the reloaded command (--step-delay 0.25)" \
        grep -q '"--step-delay","0.25"' "$out/status-train.json"
    check "systemd's status line mirrors the pipeline" out_has '^FINALIZING \(train\) round 1/1' prop StatusText
    cg=$(prop ControlGroup)
    mount=$(cg_mount)
    # An escaper: a process in train's cgroup that is neither in its process group nor heidid's descendant (like a
    # double-forked, setsid daemon a training script leaves); only the stage cgroup (cgroup.kill) can find it.
    stagecg=$(IN cat "/proc/$TRAIN_PID/cgroup" | sed -n 's/^0:://p')
    escaper=$(IN sh -c 'setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!')
    check "an escaper ($escaper) joins train's cgroup $stagecg" \
        IN sh -c 'echo "$1" > "$2/cgroup.procs"' sh "$escaper" "$mount$stagecg"
    pids=$(cg_pids "$mount$cg")
    log "service cgroup $mount$cg holds pids: $(echo $pids)"
    check "the train process ($TRAIN_PID) is in the service's cgroup tree" grep -qx "$TRAIN_PID" <<<"$pids"
    check "train runs in its own stage cgroup below the service" matches "^$cg/stage-" "$stagecg"
    check "the escaper is in the service's cgroup tree" grep -qx "$escaper" <<<"$pids"
    t=$(ts_ns)
    mark=$(journal_mark)
    check "systemctl stop heidi" IN_T 200 systemctl stop heidi
    log "stop took $(ms_since "$t") ms"
    check "heidi.service is inactive" out_is inactive IN systemctl is-active heidi.service
    check "the service ended cleanly (Result=success)" out_is success prop Result
    check "no process is left in the service's cgroup tree ($mount$cg)" out_has '^(removed|empty)$' cg_state "$mount$cg"
    pid1_says_since "$mark" >"$out/stop-pid1.txt" || true
    check "systemd logged the stop of heidi.service" has_line "Stopped heidi.service - Heidi training loop supervisor (heidid)." \
        "$out/stop-pid1.txt"
    check "heidid stopped its stage itself: systemd had nothing left to kill" out_lacks 'Killing process' cat "$out/stop-pid1.txt"
    for p in $pids; do
        check "process $p of the service is gone" pid_gone "$p"
    done
    check "the journal recorded pipeline_stop for $run" out_is 1 count_events pipeline_stop "$run"
    check "the journal's last event is daemon_stop" out_has '"event_type":"daemon_stop"' tail -n 1 "$out/events.jsonl"
}

scenario_watchdog() {
    step "watchdog: SIGSTOP heidid, systemd aborts and restarts it, the run is recovered"
    local old new run mark
    check "drop-in WatchdogSec=3s, RestartSec=1s" IN sh -c 'mkdir -p /etc/systemd/system/heidi.service.d &&
        printf "[Service]\nWatchdogSec=3s\nRestartSec=1s\nLimitCORE=0\n" > /etc/systemd/system/heidi.service.d/50-e2e-watchdog.conf &&
        systemctl daemon-reload'
    check "systemctl start heidi" IN systemctl start heidi
    check "WatchdogUSec is 3s" out_is 3s prop WatchdogUSec
    check "heidictl start --mode full --rounds 1" IN heidictl start --mode full --rounds 1
    wait_for_train || return 0
    run=$(checks get "$out/status-train.json" run_id)
    sleep 2 # train has run for 2 s more: longer than half the watchdog interval
    check "heidid pings the watchdog while it works: still active" IN systemctl is-active --quiet heidi.service
    check "heidid pings the watchdog while it works: NRestarts=0" out_is 0 prop NRestarts
    old=$(prop MainPID)
    log "SIGSTOP to heidid (pid $old) while train (pid $TRAIN_PID) runs"
    mark=$(journal_mark)
    check "kill -STOP heidid" IN kill -STOP "$old"
    restarted() {
        local p
        p=$(prop MainPID) && [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$old" ] &&
            IN_T 5 systemctl is-active --quiet heidi.service
    }
    if wait_until 30 "systemd to restart heidid after the watchdog timeout" restarted; then
        pass "systemd restarted heidid after the watchdog timeout"
    else
        fail "heidid was not restarted within 30 s of SIGSTOP"
    fi
    new=$(prop MainPID)
    check "NRestarts is 1" out_is 1 prop NRestarts
    pid1_says_since "$mark" >"$out/watchdog-pid1.txt" || true
    check "systemd logged the watchdog timeout" has_line "heidi.service: Watchdog timeout (limit 3s)!" "$out/watchdog-pid1.txt"
    check "systemd aborted heidid with SIGABRT" \
        has_line "heidi.service: Main process exited, code=killed, status=6/ABRT" "$out/watchdog-pid1.txt"
    check "the unit failed with result 'watchdog'" has_line "heidi.service: Failed with result 'watchdog'." "$out/watchdog-pid1.txt"
    check "systemd scheduled the restart" \
        has_line "heidi.service: Scheduled restart job, restart counter is at 1." "$out/watchdog-pid1.txt"
    check "the stopped heidid ($old) is gone" pid_gone "$old"
    check "the train process of the aborted daemon ($TRAIN_PID) is gone" pid_gone "$TRAIN_PID"
    check "the restarted heidid ($new) recovered the run (run_recovered for $run)" \
        wait_until 20 "run_recovered" out_is 1 count_events run_recovered "$run"
    check "the recovered run finishes (heidictl wait --state IDLE, at most 120 s)" \
        IN_T 140 heidictl wait --state IDLE --timeout 120s
    check "pipeline_complete for the recovered run $run" out_is 1 count_events pipeline_complete "$run"
    IN_T 30 heidictl journal verify >"$out/verify-watchdog.txt" 2>&1 && rc=0 || rc=$?
    check "heidictl journal verify: exit 0 after the watchdog restart" test "$rc" = 0
    check "heidictl journal verify says the chain is intact" grep -q intact "$out/verify-watchdog.txt"
    check "remove the watchdog drop-in" \
        IN sh -c 'rm -rf /etc/systemd/system/heidi.service.d && systemctl daemon-reload'
}

scenario_socket() {
    step "socket activation: heidi.socket starts heidi.service; heidictl works across restarts"
    local inode pid1 pid2 loop
    check "systemctl enable heidi.socket heidi.service" IN systemctl enable heidi.socket heidi.service
    check "systemctl stop heidi.service" IN systemctl stop heidi.service
    check "heidi.service is inactive" out_is inactive IN systemctl is-active heidi.service
    check "heidi.socket is listening" out_is active IN systemctl is-active heidi.socket
    inode=$(IN stat -c %i /run/heidi/heidi.sock || true)
    check "the first heidictl status starts heidi.service and gets an answer" IN_T 40 heidictl status
    check "heidi.service is active after the connection" IN systemctl is-active --quiet heidi.service
    pid1=$(prop MainPID)
    check "heidid took the socket from systemd (its fd 3 is a socket)" out_has '^socket:' IN readlink "/proc/$pid1/fd/3"
    # heidictl status in a loop for 8 s while the service restarts twice: every call must succeed.
    IN_T 40 sh -c 'n=0; fails=0; end=$(( $(date +%s) + 8 ))
        while [ "$(date +%s)" -lt "$end" ]; do
            n=$((n + 1))
            if ! o=$(heidictl status 2>&1); then fails=$((fails + 1)); echo "call $n failed: $o"; fi
            sleep 0.05
        done
        echo "calls=$n failures=$fails"' >"$out/status-loop.txt" 2>&1 &
    loop=$!
    sleep 1.5
    check "systemctl restart heidi (1)" IN systemctl restart heidi
    sleep 1.5
    check "systemctl restart heidi (2)" IN systemctl restart heidi
    wait $loop || true
    pid2=$(prop MainPID)
    log "status loop: $(tail -n 1 "$out/status-loop.txt")"
    check "heidi.service was restarted (pid $pid1 -> $pid2)" test "${pid2:-0}" -gt 0 -a "$pid1" != "$pid2"
    check "heidictl status never failed while the service restarted" \
        out_has '^calls=[0-9]+ failures=0$' cat "$out/status-loop.txt"
    check "the socket file was never replaced (same inode $inode)" out_is "$inode" IN stat -c %i /run/heidi/heidi.sock
}

scenario_upgrade() {
    step "upgrade: dpkg -i heidi.deb again while heidid works (the upgrade path of the maintainer scripts)"
    local before
    check "heidi.service is running" IN systemctl is-active --quiet heidi.service
    before=$(prop MainPID)
    IN sh -c 'md5sum < /etc/heidi/heidi.yaml' >"$out/conffile-before-upgrade.txt"
    check "dpkg -i heidi.deb over the installed package" IN_T 120 dpkg -i /opt/heidi-e2e/heidi.deb
    check "heidid was not restarted by the upgrade (MainPID $before)" out_is "$before" prop MainPID
    check "heidi.service is still active" IN systemctl is-active --quiet heidi.service
    check "the edited /etc/heidi/heidi.yaml (the demo config) was kept" \
        out_is "$(cat "$out/conffile-before-upgrade.txt")" IN sh -c 'md5sum < /etc/heidi/heidi.yaml'
    check "no .dpkg-new/.dpkg-old/.dpkg-dist left in /etc/heidi" out_empty IN find /etc/heidi -name '*.dpkg-*'
    check "after the upgrade /etc/heidi is still 750 root:heidi and heidi.yaml 640 root:heidi" \
        out_is "750 root heidi 640 root heidi" IN sh -c "stat -c '%a %U %G' /etc/heidi /etc/heidi/heidi.yaml | paste -sd' ' -"
    check "heidictl status answers after the upgrade" IN heidictl status
}

scenario_final() {
    step "final: journal chain, no failed units"
    IN_T 30 heidictl journal verify --journald >"$out/verify-final.txt" 2>&1 && rc=0 || rc=$?
    check "heidictl journal verify --journald: exit 0 at the end" test "$rc" = 0
    sed 's/^/        /' "$out/verify-final.txt" | head -n 8
    check "systemctl stop heidi.socket heidi.service" IN systemctl stop heidi.socket heidi.service
    check "no failed units in the container" out_empty IN systemctl list-units --failed --plain --no-legend
}

scenario_purge() {
    step "purge: dpkg --purge heidi leaves nothing behind but what policy keeps"
    check "start heidi.socket and heidi.service again (prerm must stop them)" IN systemctl start heidi.socket heidi.service
    check "dpkg --purge heidi" IN_T 120 dpkg --purge heidi
    check "dpkg no longer knows heidi (not even its conffiles)" out_is "" IN sh -c "dpkg-query -W -f '\${Status}' heidi 2>/dev/null || true"
    check "no heidid, heidi-web or stage process is left" out_empty IN sh -c 'pgrep -a -u heidi || true'
    check "systemd knows no heidi unit any more (after daemon-reload)" \
        out_empty IN sh -c 'systemctl list-unit-files --no-legend "heidi*"; systemctl list-units --all --plain --no-legend "heidi*" | grep -v " not-found " || true'
    check "/run/heidi is gone" IN test ! -e /run/heidi
    check "user and group heidi stay (policy: a system user is never removed)" IN getent passwd heidi
    list_paths >"$out/paths-after-purge.txt"
    comm -13 "$out/paths-before-install.txt" "$out/paths-after-purge.txt" >"$out/paths-left-by-purge.txt"
    comm -23 "$out/paths-before-install.txt" "$out/paths-after-purge.txt" >"$out/paths-removed-by-purge.txt"
    log "paths left after purge that were not there before the install: $(grep -c . "$out/paths-left-by-purge.txt")" \
        "($(head -n 10 "$out/paths-left-by-purge.txt" | paste -sd' ' -))"
    check "after purge no path is left that the install added, but what policy keeps (/$PURGE_KEEPS/)" \
        out_empty awk -v keep="$PURGE_KEEPS" '$0 !~ keep' "$out/paths-left-by-purge.txt"
    check "purge removed nothing that was there before the install" out_empty cat "$out/paths-removed-by-purge.txt"
}

run_scenarios() {
    scenario_install
    scenario_start
    scenario_demo
    scenario_journald
    scenario_reload
    scenario_stop
    scenario_watchdog
    scenario_socket
    scenario_upgrade
    scenario_final
    scenario_purge
}
