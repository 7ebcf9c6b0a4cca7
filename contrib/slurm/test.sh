#!/usr/bin/env bash
# make slurm-test: SlurmExecutorTests (Tests/EndToEndTests) against a real Slurm cluster on this machine, started by
# cluster.sh in a scratch directory: every scenario without accounting (scontrol is the final word), then the ones whose
# answer comes from Slurm's record again with accounting (slurmdbd + MariaDB; sacct is the final word). Root only.
# Never skips: a missing package or a cluster that does not come up fails, saying which.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "slurm-test: run as root (slurmd runs the test jobs as their submitting user)" >&2; exit 1; }
dir=$(mktemp -d /tmp/heidi-slurm.XXXXXX)
chmod 0755 "$dir"  # munged (user munge) must reach its socket below it
cleanup() {
    contrib/slurm/cluster.sh stop "$dir/plain" >/dev/null 2>&1 || true
    contrib/slurm/cluster.sh stop "$dir/accounting" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
swift build --build-tests >/dev/null

run() {  # run LABEL FILTER
    local status=0 started=$SECONDS
    swift test --skip-build --filter "$2" 2>&1 | tee "$dir/$1.log" || status=$?
    echo "slurm-test: $1 took $((SECONDS - started)) s (exit $status)"
    if [ "$status" != 0 ] || ! grep -q "Test run with .* passed" "$dir/$1.log"; then
        echo "== slurm-test $1 failed; the failures:"
        grep -a -A3 -E '✘|error: ' "$dir/$1.log" | cut -c1-400 | tail -60
        echo "== the cluster's logs:"
        tail -n 15 "$dir/$1"/log/*.log 2>/dev/null || true
        exit 1
    fi
}

eval "$(contrib/slurm/cluster.sh start "$dir/plain")"
HEIDI_TEST_SLURM_ACCOUNTING=0 run plain 'SlurmExecutorTests'
contrib/slurm/cluster.sh stop "$dir/plain"

eval "$(contrib/slurm/cluster.sh start "$dir/accounting" --accounting --port-base 17817)"
HEIDI_TEST_SLURM_ACCOUNTING=1 run accounting \
    'SlurmExecutorTests/(argvArrivesUnchanged|exitCodeComesFromSlurm|signalComesFromSlurm|pendingJobCancelled|timeoutFromRunning|requeueFollowed)'
