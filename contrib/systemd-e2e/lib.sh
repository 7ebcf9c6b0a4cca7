# Shared helpers of the systemd end-to-end test (sourced by run.sh and scenarios.sh; bash only).
# log/step/pass/fail print one line each; check runs a command and records PASS or FAIL; every wait is bounded.

E2E_T0=${E2E_T0:-$(date +%s%N)}
E2E_FAILS=${E2E_FAILS:-0}
E2E_PASSES=${E2E_PASSES:-0}

ts_ns() { date +%s%N; }
ms_since() { echo $(( ($(ts_ns) - $1) / 1000000 )); }
_stamp() { printf '%6.1fs' "$(awk -v ns=$(( $(ts_ns) - E2E_T0 )) 'BEGIN { printf "%.1f", ns / 1e9 }')"; }
log() { echo "[e2e $(_stamp)] $*"; }
step() { echo; echo "[e2e $(_stamp)] ==== $*"; }

# A prerequisite or harness failure: the test cannot go on. Prints the reason and exits 2.
die() { echo "[e2e $(_stamp)] ERROR: $*" >&2; exit 2; }

pass() { E2E_PASSES=$((E2E_PASSES + 1)); echo "[e2e $(_stamp)] PASS: $*"; }
fail() { E2E_FAILS=$((E2E_FAILS + 1)); echo "[e2e $(_stamp)] FAIL: $*"; }

# check "description" cmd args...: PASS when the command exits 0; on FAIL its output is shown.
check() {
    local what=$1 output rc=0
    shift
    output=$("$@" 2>&1) || rc=$?
    if [ "$rc" = 0 ]; then
        pass "$what"
    else
        fail "$what (exit $rc: $*)"
        [ -z "$output" ] || printf '%s\n' "$output" | tail -n 25 | sed 's/^/        | /'
    fi
    return 0
}

# wait_until SECONDS "description" cmd args...: polls every 0.2 s until the command succeeds.
# Returns 1 (after logging what it waited for) when the time is up.
wait_until() {
    local timeout=$1 what=$2 deadline
    shift 2
    deadline=$(( $(ts_ns) + timeout * 1000000000 ))
    until "$@" >/dev/null 2>&1; do
        if [ "$(ts_ns)" -ge "$deadline" ]; then
            log "timed out after ${timeout}s waiting for: $what"
            return 1
        fi
        sleep 0.2
    done
}
