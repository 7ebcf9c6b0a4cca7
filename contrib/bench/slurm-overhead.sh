#!/usr/bin/env bash
# The per-stage overhead heidi adds to a Slurm job (issue 19, docs/slurm.md), against Slurm's own timestamps: a local
# cluster with accounting (contrib/slurm/cluster.sh), one heidid, a full run of ROUNDS rounds whose generate stage
# is a batch job that prints its own clock, sleeps JOB_SECONDS and prints it again. Per job it reports
#   - stage_start → Slurm's Submit (sbatch's round trip), Slurm's Start → heidid shows the job RUNNING (status poll),
#     Slurm's End → stage_end in the journal;
#   - the same two ends against the job's own first and last instruction (sub-second: Slurm's times are whole seconds).
# Root only (slurmd runs the job as its submitter). Knobs: ROUNDS (8), JOB_SECONDS (2), HEIDI_SLURM_POLL (heidid's
# default 0.25,5: first poll after 0.25 s, then 1.5× longer while nothing changes, at most 5 s), BIN (heidid's
# directory; default: `swift build`'s debug binaries, built if missing), PORT_BASE (18817).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "slurm-overhead: run as root" >&2; exit 1; }
ROUNDS=${ROUNDS:-8}
JOB_SECONDS=${JOB_SECONDS:-2}
PORT_BASE=${PORT_BASE:-18817}
if [ -z "${BIN:-}" ]; then
    swift build --product heidid >/dev/null
    swift build --product heidictl >/dev/null
    BIN=$(swift build --show-bin-path)
fi
dir=$(mktemp -d /tmp/heidi-slurm-bench.XXXXXX)
chmod 0755 "$dir"
daemon=
cleanup() {
    [ -n "$daemon" ] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
    # heidid leaves a running job for its successor: nothing of this run may stay queued.
    [ -n "${SLURM_CONF:-}" ] && scancel --user root 2>/dev/null || true
    contrib/slurm/cluster.sh stop "$dir/cluster" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
eval "$(contrib/slurm/cluster.sh start "$dir/cluster" --accounting --port-base "$PORT_BASE")"
echo "==> $(nproc) CPUs, $(sinfo --version), heidid from $BIN, HEIDI_SLURM_POLL=${HEIDI_SLURM_POLL:-default 0.25,5}"
cat > "$dir/heidi.yaml" <<EOF
pipeline: {mode: full, rounds: $ROUNDS, run_unit_tests: false}
paths: {repo_root: $dir}
limits: {max_cpu_pct: 100, max_mem_pct: 100}
logs: {journald: false}
stages:
  generate:
    command: [/bin/sh, -c, 'date +"clock %s.%N"; sleep $JOB_SECONDS; date +"clock %s.%N"']
    executor: slurm
    timeout: 10m
  validate: {command: ["true"]}
  train: {command: ["true"]}
  eval: {command: ["true"]}
EOF
"$BIN/heidid" --config "$dir/heidi.yaml" --state-dir "$dir/state" --socket "$dir/heidi.sock" --log-target stderr \
    2>"$dir/heidid.log" &
daemon=$!
for _ in $(seq 100); do "$BIN/heidictl" --socket "$dir/heidi.sock" status >/dev/null 2>&1 && break; sleep 0.1; done
PYTHONPATH=contrib/python/src python3 - "$dir" "$ROUNDS" <<'EOF'
import datetime, json, os, statistics, subprocess, sys, time
import heidi

directory, rounds = sys.argv[1], int(sys.argv[2])
client = heidi.Client(f"{directory}/heidi.sock")

def status():
    return json.loads(client.request("GET", "/api/v1/status").body)

def epoch(text):  # journal and Slurm times: ISO 8601, the journal's in UTC with a zone, Slurm's local without
    stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return stamp.timestamp()

client.start(mode="full", rounds=rounds)
seen_running = {}  # job id -> when heidid's status first showed it RUNNING
states = set()
deadline = time.time() + 60 + rounds * 30
busy = False
while time.time() < deadline:
    now, s = time.time(), status()
    executor = (s.get("child") or {}).get("executor") or {}
    states.add(executor.get("state"))
    if executor.get("state") == "RUNNING" and executor.get("job_id") and executor["job_id"] not in seen_running:
        seen_running[executor["job_id"]] = now
    busy = busy or s.get("state") not in ("IDLE", "ERROR")
    if busy and s.get("state") in ("IDLE", "ERROR"):
        break
    time.sleep(0.005)
else:
    sys.exit(f"slurm-overhead: the run did not end in time; status {status()}")
if len(seen_running) < rounds:
    sys.exit(f"slurm-overhead: heidid's status showed only {len(seen_running)} of {rounds} jobs RUNNING (states seen: {states})")
run_id = status()["run_id"]
events = [e for e in client.events() if e.stage == "generate" and e.run_id == run_id]
starts = {e.round: epoch(e.ts) for e in events if e.event_type == "stage_start"}
ends = {e.round: epoch(e.ts) for e in events if e.event_type == "stage_end"}
time.sleep(2)  # slurmdbd records a job's end a moment after it
sacct = subprocess.run(["sacct", "-X", "-n", "-P", "-a", "-S", "now-1hour", "-o", "JobID,JobName,Submit,Start,End,State"],
                       capture_output=True, text=True, check=True).stdout
jobs = {}  # round -> (job id, Submit, Start, End); this cluster runs nothing else
for line in sacct.splitlines():
    job, name, submit, start, end, state = line.split("|")
    if name.startswith("heidi.") and ".generate." in name:
        round_number = int(name.split(".generate.")[0].rsplit(".r", 1)[1])
        jobs[round_number] = (job, epoch(submit), epoch(start), epoch(end))
submit_lag, queued, seen_after_submit, running_lag, end_lag, running_exact, end_exact = [], [], [], [], [], [], []
for round_number in range(1, rounds + 1):
    with open(f"{directory}/state/runs/{run_id}/logs/round-{round_number}/generate.log") as log:
        clocks = [float(line.split()[1]) for line in log if line.startswith("clock ")]
    job, submit, start, end = jobs[round_number]
    submit_lag.append(submit - starts[round_number])
    queued.append(start - submit)
    seen_after_submit.append(seen_running[job] - submit)
    running_lag.append(seen_running[job] - start)
    end_lag.append(ends[round_number] - end)
    running_exact.append(seen_running[job] - clocks[0])
    end_exact.append(ends[round_number] - clocks[-1])

def show(label, values, note):
    print(f"{label:44s} mean {statistics.mean(values):6.3f} s  median {statistics.median(values):6.3f}  "
          f"min {min(values):6.3f}  max {max(values):6.3f}   {note}")

print(f"==> {rounds} jobs of {run_id}, each sleeping; Slurm's Submit/Start/End are whole seconds (±1 s per sample)")
show("stage_start -> Slurm Submit", submit_lag, "(whole-second Submit: about 0.5 s low on average)")
show("Slurm Submit -> Slurm Start", queued, "(Slurm's own scheduling, whole seconds)")
show("Slurm Submit -> heidid shows RUNNING", seen_after_submit, "(whole-second Submit)")
show("Slurm Start -> heidid shows RUNNING", running_lag, "(whole-second Start)")
show("Slurm End -> stage_end journaled", end_lag, "(whole-second End)")
show("job's first instruction -> RUNNING shown", running_exact, "(job's own clock, ms)")
show("job's last instruction -> stage_end", end_exact, "(job's own clock, ms: includes slurmstepd's teardown)")
EOF
