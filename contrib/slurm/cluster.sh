#!/usr/bin/env bash
# A real Slurm cluster on this machine, for heidi's Slurm tests (docs/slurm.md): slurmctld and two slurmd "nodes"
# (n1, n2; one CPU, 500 MB and two fake GPUs each, backed by loop devices), munged, and with --accounting slurmdbd on
# a private MariaDB. Everything lives under DIR and is selected with SLURM_CONF=DIR/etc/slurm.conf; nothing goes in /etc
# or /run. Installs nothing: it needs Debian's slurm-wlm and munge (and slurmdbd, mariadb-server for --accounting).
#
#   contrib/slurm/cluster.sh start DIR [--accounting] [--port-base N]   # prints "export SLURM_CONF=…" when ready
#   contrib/slurm/cluster.sh stop DIR                                   # TERM every daemon by its pid file
#   contrib/slurm/cluster.sh controller-stop DIR | controller-start DIR # slurmctld alone (outage tests)
#
# Run as root (slurmd runs jobs as their submitting user). Ports: N (slurmctld), N+1 (slurmdbd), N+4 and N+5 (slurmd),
# N+490 (MariaDB); the default base is 16817. Each DIR needs its own ports: a new slurmctld kills whatever its pid file names.
set -euo pipefail

usage() { echo "usage: $0 start DIR [--accounting] [--port-base N] | stop DIR | controller-stop DIR | controller-start DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
action=$1
dir=$2
shift 2
accounting=0
base=16817
while [ $# -gt 0 ]; do
    case $1 in
        --accounting) accounting=1 ;;
        --port-base) base=$2; shift ;;
        *) usage ;;
    esac
    shift
done
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
export SLURM_CONF=$dir/etc/slurm.conf

need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || {
            echo "$0: $tool is missing (apt-get install slurm-wlm munge; with --accounting also slurmdbd mariadb-server)" >&2
            exit 1
        }
    done
}

# TERM the process a pid file names and wait up to 10 s for it to go.
stop_pidfile() {
    local file=$1 pid
    [ -s "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
}

wait_for() {  # wait_for SECONDS WHAT COMMAND...
    local seconds=$1 what=$2
    shift 2
    for _ in $(seq $((seconds * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "$0: $what did not come up within $seconds s; logs in $dir/log" >&2
    tail -n 20 "$dir"/log/*.log >&2 || true
    return 1
}

start_controller() {
    /usr/sbin/slurmctld -f "$SLURM_CONF"
    wait_for 20 slurmctld scontrol ping
}

stop_all() {
    stop_pidfile "$dir/run/slurmd-n1.pid"
    stop_pidfile "$dir/run/slurmd-n2.pid"
    stop_pidfile "$dir/run/slurmctld.pid"
    stop_pidfile "$dir/run/slurmdbd.pid"
    stop_pidfile "$dir/run/mariadb.pid"
    stop_pidfile "$dir/run/munged.pid"
}

write_config() {
    local host
    host=$(hostname -s)
    mkdir -p "$dir"/{etc,state,spool,run,log,munge}
    {
        echo "ClusterName=heiditest"
        echo "SlurmctldHost=$host(127.0.0.1)"
        echo "SlurmUser=root"
        echo "SlurmctldPort=$base"
        echo "AuthType=auth/munge"
        echo "AuthInfo=socket=$dir/munge/munge.socket"
        echo "CredType=cred/munge"
        echo "StateSaveLocation=$dir/state"
        echo "SlurmdSpoolDir=$dir/spool/%n"
        echo "SlurmctldPidFile=$dir/run/slurmctld.pid"
        echo "SlurmdPidFile=$dir/run/slurmd-%n.pid"
        echo "SlurmctldLogFile=$dir/log/slurmctld.log"
        echo "SlurmdLogFile=$dir/log/slurmd-%n.log"
        echo "ProctrackType=proctrack/linuxproc"
        echo "TaskPlugin=task/none"
        echo "SelectType=select/cons_tres"
        echo "SelectTypeParameters=CR_Core"
        echo "MpiDefault=none"
        echo "ReturnToService=2"
        # Fast tests: a short KillWait (TERM→KILL on Slurm's own cancel/limits), quick scheduling and no wait for a
        # requeued job's BeginTime beyond what Slurm enforces.
        echo "KillWait=2"
        echo "MinJobAge=300"
        echo "SchedulerParameters=sched_interval=1,bf_interval=1,defer_batch=0"
        echo "SlurmctldTimeout=10"
        echo "SlurmdTimeout=60"
        echo "MessageTimeout=5"
        echo "InactiveLimit=0"
        echo "GresTypes=gpu"
        echo "JobRequeue=1"
        if [ "$accounting" = 1 ]; then
            echo "AccountingStorageType=accounting_storage/slurmdbd"
            echo "AccountingStorageHost=127.0.0.1"
            echo "AccountingStoragePort=$((base + 2))"
            echo "AccountingStoreFlags=job_comment"
            echo "AccountingStoragePass=$dir/munge/munge.socket"
            echo "JobAcctGatherType=jobacct_gather/linux"
            echo "JobAcctGatherFrequency=1"
        else
            echo "AccountingStorageType=accounting_storage/none"
            echo "JobAcctGatherType=jobacct_gather/none"
        fi
        echo "NodeName=n[1-2] NodeHostname=$host NodeAddr=127.0.0.1 Port=[$((base + 4))-$((base + 5))] CPUs=1 RealMemory=500 Gres=gpu:2 State=UNKNOWN"
        echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
    } > "$dir/etc/slurm.conf"
    {
        echo "NodeName=n1 Name=gpu File=/dev/loop[0-1]"
        echo "NodeName=n2 Name=gpu File=/dev/loop[2-3]"
    } > "$dir/etc/gres.conf"
    for loop in 0 1 2 3; do [ -e "/dev/loop$loop" ] || mknod "/dev/loop$loop" b 7 "$loop"; done
}

start_munge() {
    chown munge:munge "$dir/munge"
    chmod 0755 "$dir/munge"
    if [ ! -s "$dir/munge/munge.key" ]; then
        head -c 1024 /dev/urandom > "$dir/munge/munge.key"
        chown munge:munge "$dir/munge/munge.key"
        chmod 0400 "$dir/munge/munge.key"
    fi
    touch "$dir/run/munged.pid" "$dir/log/munged.log"
    chown munge:munge "$dir/run/munged.pid" "$dir/log/munged.log"
    runuser -u munge -- /usr/sbin/munged --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munge.seed" --force
    wait_for 10 munged test -S "$dir/munge/munge.socket"
}

start_accounting() {
    local dbport=$((base + 490))
    if [ ! -d "$dir/db/mysql" ]; then
        mkdir -p "$dir/db"
        chown mysql:mysql "$dir/db"
        mariadb-install-db --no-defaults --datadir="$dir/db" --user=mysql --auth-root-authentication-method=normal \
            --skip-test-db >"$dir/log/mariadb-install.log" 2>&1
    fi
    (runuser -u mysql -- mariadbd --no-defaults --datadir="$dir/db" --bind-address=127.0.0.1 --port=$dbport \
        --socket="$dir/run/mariadb.sock" --pid-file="$dir/run/mariadb.pid" --log-error="$dir/log/mariadb.log" \
        --skip-grant-tables=0 </dev/null >/dev/null 2>&1 &)
    chmod 0777 "$dir/run"
    wait_for 30 mariadb mariadb --no-defaults --socket="$dir/run/mariadb.sock" -u root -e 'select 1'
    mariadb --no-defaults --socket="$dir/run/mariadb.sock" -u root -e \
        "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'heiditest';
         CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'heiditest';
         GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
    {
        echo "AuthType=auth/munge"
        echo "AuthInfo=socket=$dir/munge/munge.socket"
        echo "DbdHost=localhost"
        echo "DbdAddr=127.0.0.1"
        echo "DbdPort=$((base + 2))"
        echo "SlurmUser=root"
        echo "PidFile=$dir/run/slurmdbd.pid"
        echo "LogFile=$dir/log/slurmdbd.log"
        echo "StorageType=accounting_storage/mysql"
        echo "StorageHost=127.0.0.1"
        echo "StoragePort=$dbport"
        echo "StorageUser=slurm"
        echo "StoragePass=heiditest"
        echo "StorageLoc=slurm_acct_db"
    } > "$dir/etc/slurmdbd.conf"
    chmod 0600 "$dir/etc/slurmdbd.conf"
    /usr/sbin/slurmdbd
    wait_for 30 slurmdbd bash -c "exec 3<>/dev/tcp/127.0.0.1/$((base + 2))"
    sacctmgr -i add cluster heiditest >/dev/null 2>&1 || true
}

case $action in
    start)
        need munged slurmctld slurmd sbatch
        [ "$accounting" = 1 ] && need slurmdbd mariadbd mariadb-install-db
        stop_all
        write_config
        start_munge
        [ "$accounting" = 1 ] && start_accounting
        start_controller
        /usr/sbin/slurmd -N n1 -f "$SLURM_CONF"
        /usr/sbin/slurmd -N n2 -f "$SLURM_CONF"
        wait_for 30 "both nodes idle" bash -c '[ "$(sinfo -h -o %T | sort -u)" = idle ]'
        echo "export SLURM_CONF=$SLURM_CONF"
        ;;
    stop) stop_all ;;
    controller-stop) stop_pidfile "$dir/run/slurmctld.pid" ;;
    controller-start)
        start_controller
        # The nodes stay "unknown" until their slurmd registers again (a few seconds): wait, so the next job has them.
        wait_for 30 "both nodes registered" bash -c 's=$(sinfo -h -o %T) && [ -n "$s" ] && ! grep -qvE "^(idle|mixed|allocated|completing)$" <<<"$s"'
        ;;
    *) usage ;;
esac
