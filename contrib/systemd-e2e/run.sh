#!/usr/bin/env bash
# End-to-end test of heidi under a real systemd (PID 1), on a host whose PID 1 is not systemd.
#
#   contrib/systemd-e2e/run.sh [--artifacts DIR] [--no-build]        (as root; `make systemd-test` runs it)
#
# 1. Builds (once) and caches a debootstrapped Debian 12 rootfs in $HEIDI_E2E_CACHE (default /var/cache/heidi-e2e).
# 2. Builds the Debian package (`make deb`: static release binaries, units, sysusers and tmpfiles entries, conffiles,
#    completions, man pages, maintainer scripts) and puts it, with the demo pipeline (config/demo.yaml +
#    contrib/demo), into the container; the first scenario installs it there with `dpkg -i` (postinst creates the
#    user, applies tmpfiles.d, enables and starts the units) and makes the demo config /etc/heidi/heidi.yaml.
# 3. In a private mount namespace (tmpfs /run, overlayfs over the cached rootfs) and a throwaway cgroup, boots the
#    rootfs with `systemd-nspawn --boot` (pure cgroup v2 inside), and drives everything from inside the container
#    through `nsenter` into its PID 1: systemctl, journalctl, heidictl (scenarios.sh lists the assertions).
# 4. Powers the container off and removes what it created on the host: the machine, mounts, cgroups, temp
#    directories. Only the rootfs cache stays.
#
# Prints one PASS/FAIL line per assertion. Exit status: 0 all passed, 1 an assertion failed, 2 a prerequisite is
# missing or the harness itself failed (the reason is printed).
#
# --artifacts DIR  keep the evidence in DIR: console log, journal (export format and the journal files, readable
#                  with `journalctl -D`), events.jsonl, status outputs. Without it, the last journal lines are printed
#                  on failure and nothing is kept.
# --no-build       use the package `make deb` already built (.build/deb/heidi_<version>_<arch>.deb) instead of
#                  running `make deb` (fails if it is missing); `make systemd-test` builds it first.
# Environment: HEIDI_E2E_CACHE (rootfs cache), HEIDI_E2E_BOOT_TIMEOUT (s, default 60).
set -euo pipefail

case ${BASH_SOURCE[0]} in */*) here=${BASH_SOURCE[0]%/*} ;; *) here=. ;; esac
here=$(cd "$here" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

if [ -z "${HEIDI_E2E_INNER:-}" ]; then
    # ============================================================ outer part: host side
    artifacts="" build=1
    while [ $# -gt 0 ]; do
        case "$1" in
        --artifacts) [ $# -ge 2 ] || die "--artifacts needs a directory"; artifacts=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
        esac
    done

    step "prerequisites"
    [ "$(id -u)" = 0 ] || die "must run as root: it mounts, creates cgroups and runs systemd-nspawn (try: sudo make systemd-test)"
    need() { command -v "$1" >/dev/null || die "$1 is missing: $2"; }
    need systemd-nspawn "apt-get install systemd-container"
    need unshare "apt-get install util-linux"
    need nsenter "apt-get install util-linux"
    need flock "apt-get install util-linux"
    need findmnt "apt-get install util-linux"
    need python3 "apt-get install python3"
    need make "apt-get install make"
    need dpkg-parsechangelog "apt-get install dpkg-dev"
    need systemd-analyze "apt-get install systemd"
    grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
    grep -qw overlay /proc/filesystems || die "the kernel has no overlayfs (needed to boot a throwaway copy of the rootfs)"
    cg2=$(findmnt -n -o TARGET -t cgroup2 | head -n 1 || true)
    [ -n "$cg2" ] || die "no cgroup2 file system is mounted (systemd-nspawn gives the container a cgroup v2 tree from it)"
    log "host: $(uname -r), cgroup2 at $cg2, $(systemd-nspawn --version | head -n 1)"

    cache=${HEIDI_E2E_CACHE:-/var/cache/heidi-e2e}
    t=$(ts_ns)
    rootfs=$("$here/rootfs.sh" "$cache") || die "no rootfs (see above)"
    log "rootfs ready in $(ms_since "$t") ms: $rootfs"

    work=$(mktemp -d /tmp/heidi-systemd-e2e.XXXXXX)
    cgroups=()
    outer_cleanup() {
        local rc=$? cg
        for cg in "${cgroups[@]}"; do
            [ -d "$cg" ] || continue
            echo $$ >"$(dirname "$cg")/cgroup.procs" 2>/dev/null || true
            find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
            [ ! -d "$cg" ] || echo "[e2e] WARNING: could not remove cgroup $cg" >&2
        done
        rm -rf "$work"
        exit "$rc"
    }
    trap outer_cleanup EXIT
    trap 'exit 130' INT TERM

    step "the Debian package (make deb)"
    deb=$repo/.build/deb/heidi_$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)_$(dpkg --print-architecture).deb
    t=$(ts_ns)
    if [ "$build" = 1 ]; then
        command -v swift >/dev/null || die "the Swift toolchain must be on PATH (make deb builds the release binaries)"
        if ! make -C "$repo" deb >"$work/make-deb.log" 2>&1; then
            tail -n 40 "$work/make-deb.log"
            die "make deb failed (above: the end of its output)"
        fi
        log "make deb took $(ms_since "$t") ms"
    fi
    [ -s "$deb" ] || die "$deb is missing (run make deb)"
    log "package: $deb ($(du -h "$deb" | cut -f1))"

    # The demo pipeline, as the installed configuration: config/demo.yaml with repo_root pointing at the demo
    # scripts' new home, and child output forwarded to journald. Plus the two variants the scenarios reload.
    payload=$work/payload
    mkdir -p "$payload/opt/heidi-demo/contrib" "$payload/opt/heidi-e2e"
    cp "$deb" "$payload/opt/heidi-e2e/heidi.deb"
    cp -r "$repo/contrib/demo" "$payload/opt/heidi-demo/contrib/demo"
    rm -rf "$payload/opt/heidi-demo/contrib/demo/__pycache__"
    derive() { # derive FILE SED-EXPRESSION ERE: edits FILE, then requires a line matching ERE
        sed -i -e "$2" "$1"
        grep -qE -- "$3" "$1" ||
            die "config/demo.yaml changed shape: no line matches /$3/ after sed '$2'; update contrib/systemd-e2e/run.sh"
    }
    demo=$payload/opt/heidi-e2e/heidi-demo.yaml
    cp "$repo/config/demo.yaml" "$demo"
    derive "$demo" 's|^  repo_root: \.\./contrib/demo |  repo_root: /opt/heidi-demo/contrib/demo |' \
        '^  repo_root: /opt/heidi-demo/contrib/demo '
    derive "$demo" 's|^  journald: false |  journald: true |' '^  journald: true '
    # A slower train stage (40 steps of 0.25 s) so that a test can act while a stage runs.
    slow=$payload/opt/heidi-e2e/heidi-slow-train.yaml
    cp "$demo" "$slow"
    derive "$slow" 's|^    train_steps: 8 |    train_steps: 40 |' '^    train_steps: 40 '
    derive "$slow" 's|--steps, "{train_steps}"\]|--steps, "{train_steps}", --step-delay, "0.25"]|' \
        '--steps, "\{train_steps\}", --step-delay, "0\.25"\]$'
    broken=$payload/opt/heidi-e2e/heidi-broken.yaml
    cp "$demo" "$broken"
    derive "$broken" 's|^  rounds: [0-9]*|  rounds: many|' '^  rounds: many'

    # nspawn stays in its own cgroup (--keep-unit: there is no host systemd to ask for a scope) and creates its
    # payload/supervisor cgroups below it: give it a throwaway child cgroup in every hierarchy systemd uses.
    own() { sed -n "s|^[0-9]*:$1:||p" /proc/self/cgroup | head -n 1 | sed 's|/$||'; }
    if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
        cgroups+=("/sys/fs/cgroup$(own '')/heidi-e2e-$$")
    else
        [ ! -d /sys/fs/cgroup/unified ] || cgroups+=("/sys/fs/cgroup/unified$(own '')/heidi-e2e-$$")
        [ ! -d /sys/fs/cgroup/systemd ] || cgroups+=("/sys/fs/cgroup/systemd$(own name=systemd)/heidi-e2e-$$")
    fi
    for cg in "${cgroups[@]}"; do
        mkdir "$cg" || die "cannot create cgroup $cg"
        echo $$ >"$cg/cgroup.procs" || die "cannot move into cgroup $cg"
    done

    HEIDI_E2E_INNER=1 E2E_T0=$E2E_T0 E2E_ROOTFS=$rootfs E2E_WORK=$work E2E_ARTIFACTS=$artifacts E2E_REPO=$repo \
        unshare --mount --propagation private -- "$BASH" "$here/run.sh" &
    inner=$!
    # SIGINT/SIGTERM (Ctrl-C, a CI timeout): the inner part and what it waits for get SIGTERM, so it powers the
    # container off and unmounts at once instead of after its current step; then the cleanup above runs.
    interrupted=""
    forward() {
        interrupted=1
        local c
        for c in $(cat /proc/$inner/task/*/children 2>/dev/null); do kill -TERM "$c" 2>/dev/null || true; done
        kill -TERM "$inner" 2>/dev/null || true
    }
    trap forward INT TERM
    rc=0
    wait "$inner" || rc=$?
    while kill -0 "$inner" 2>/dev/null; do rc=0; wait "$inner" || rc=$?; done # wait returns early on a trapped signal
    trap - INT TERM
    if [ -n "$interrupted" ]; then
        log "interrupted; cleaned up"
        exit 130
    fi
    log "total $(ms_since "$E2E_T0") ms"
    case $rc in
    0) log "RESULT: systemd end-to-end test passed" ;;
    1) log "RESULT: systemd end-to-end test FAILED (see the FAIL lines above)" ;;
    *) log "RESULT: systemd end-to-end test could not run (exit $rc, see the ERROR above)" ;;
    esac
    exit "$rc"
fi

# ================================================================ inner part: private mount namespace
rootfs=$E2E_ROOTFS work=$E2E_WORK artifacts=$E2E_ARTIFACTS repo=$E2E_REPO
boot_timeout=${HEIDI_E2E_BOOT_TIMEOUT:-60}
machine=heidi-e2e-$$

# nspawn keeps locks and propagation directories in /run: a private tmpfs makes them vanish with the namespace.
mount -t tmpfs -o mode=0755 tmpfs /run || die "cannot mount a private tmpfs on /run"
s=/run/heidi-e2e
mkdir -p $s/upper $s/work $s/merged
mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$s/upper,workdir=$s/work" $s/merged ||
    die "cannot mount an overlay over $rootfs"
root=$s/merged
cp -a "$work/payload/." "$root/" || die "cannot copy the package and the demo into the container"

# IN_T SECONDS cmd...: run a command inside the container (all its namespaces, a clean environment), bounded.
IN_T() {
    local secs=$1
    shift
    timeout --kill-after=5 "$secs" nsenter -t "$LEADER" -a \
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb SYSTEMD_COLORS=0 \
        SYSTEMD_PAGER= SYSTEMD_LESS= LANG=C.UTF-8 "$@"
}
IN() { IN_T 60 "$@"; }

save_artifacts() {
    mkdir -p "$artifacts"
    IN_T 30 journalctl --no-pager -o export >"$artifacts/journal.export" 2>/dev/null
    IN_T 30 journalctl --no-pager -o short-precise >"$artifacts/journal.txt" 2>/dev/null
    IN_T 30 cat /var/lib/heidi/events.jsonl >"$artifacts/events.jsonl" 2>/dev/null
    IN_T 30 tar -C /var/log/journal -cf - . 2>/dev/null | { mkdir -p "$artifacts/journal" && tar -C "$artifacts/journal" -xf -; }
    cp -r "$work/out" "$artifacts/outputs" 2>/dev/null
    log "artifacts in $artifacts (journalctl -D $artifacts/journal ...)"
}

step "booting the container ($machine) with systemd-nspawn"
t=$(ts_ns)
# SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1: a pure cgroup v2 tree in the container (as on a stock Debian 12), even though
# this host is hybrid; heidid's per-stage cgroups need the delegated v2 subtree.
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -D "$root" --boot --register=no --keep-unit --private-network \
    --machine="$machine" --console=read-only -E SYSTEMD_COLORS=0 >"$work/console.log" 2>&1 &
nspawn=$!
inner_cleanup() {
    local rc=$?
    set +e
    if [ $rc != 0 ] && [ -z "${E2E_DONE:-}" ] && [ -n "${E2E_LAST_ERR:-}" ]; then
        log "ERROR: the harness stopped early; last failed command: $E2E_LAST_ERR"
    fi
    if [ $rc != 0 ] && [ $rc != 130 ] && [ -n "${LEADER:-}" ] && [ -z "$artifacts" ]; then
        echo "---- last 60 lines of journalctl -u heidi.service in the container"
        IN_T 20 journalctl -u heidi.service -u heidi.socket --no-pager -n 60 -o short-precise 2>&1 | sed 's/^/    /'
    fi
    if [ -n "$artifacts" ] && [ -n "${LEADER:-}" ] && [ $rc != 130 ]; then save_artifacts; fi
    if kill -0 $nspawn 2>/dev/null; then
        kill -TERM $nspawn # nspawn turns SIGTERM into an orderly poweroff of the container
        for _ in $(seq 150); do kill -0 $nspawn 2>/dev/null || break; sleep 0.1; done
        if kill -0 $nspawn 2>/dev/null; then
            log "nspawn did not power off within 15 s: SIGKILL"
            kill -KILL $nspawn
        fi
    fi
    wait $nspawn 2>/dev/null
    if [ -n "$artifacts" ]; then cp "$work/console.log" "$artifacts/console.log" 2>/dev/null; fi
    umount $root 2>/dev/null || umount -l $root
    exit $rc
}
trap inner_cleanup EXIT
trap 'exit 130' INT TERM
# Only remembered (for the message above when set -e ends the harness), never acted on.
set -E
trap 'E2E_LAST_ERR="${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND (exit $?)"' ERR

# The container's PID 1: the nspawn child whose NSpid line ends in 1 (the innermost pid namespace).
find_leader() {
    local c
    for c in $(cat /proc/$nspawn/task/*/children 2>/dev/null); do
        awk '/^NSpid:/ { if (NF >= 3 && $NF == 1) found = 1 } END { exit !found }' /proc/$c/status 2>/dev/null &&
            { echo "$c"; return 0; }
    done
    return 1
}
LEADER=""
for _ in $(seq $((boot_timeout * 10))); do
    LEADER=$(find_leader) && break
    kill -0 $nspawn 2>/dev/null || { cat "$work/console.log"; die "systemd-nspawn exited during boot (console above)"; }
    sleep 0.1
done
[ -n "$LEADER" ] || { cat "$work/console.log"; die "no container PID 1 after ${boot_timeout}s"; }

wait_until "$boot_timeout" "the container's systemd to listen" IN_T 5 test -S /run/systemd/private ||
    { cat "$work/console.log"; die "the container's systemd did not come up"; }
state=$(IN_T "$boot_timeout" systemctl is-system-running --wait 2>&1 || true)
log "boot: system state '$state' after $(ms_since "$t") ms (container PID 1 is host pid $LEADER)"
if [ "$state" != running ]; then
    IN systemctl --failed --no-pager || true
    die "the container did not boot to 'running' (state '$state'; failed units above)"
fi

mkdir -p "$work/out"
# shellcheck source=scenarios.sh
. "$here/scenarios.sh"
run_scenarios

E2E_DONE=1
step "summary"
log "$E2E_PASSES passed, $E2E_FAILS failed"
[ "$E2E_FAILS" = 0 ] || exit 1
exit 0
