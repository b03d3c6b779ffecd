#!/usr/bin/env bash
# Real SLURM test: start a private single-node SLURM cluster on localhost, run a small config
# of the workflow through workflow/profiles/slurm, run the same config locally, and check
# that the output tables are byte-for-byte equal. Every daemon this script starts (munged,
# slurmctld, slurmd) is stopped by PID on exit, whatever happens.
#
# Usage (as root, Debian/Ubuntu; installs slurm-wlm + munge with apt if missing):
#   tests/slurm/run_slurm_test.sh [CONFIG]          # CONFIG defaults to tests/slurm/config.yaml
# Environment:
#   SLURM_TEST_KEEP=1        keep the temp dir (logs, both result trees) for inspection
#   SLURM_TEST_TIMEOUT=900   seconds each snakemake run may take (then SIGINT, then SIGKILL)
#
# The cluster is private: its own slurm.conf, munge key and socket, state and spool folders
# and free ports, all in a temp dir; any system munged is not touched. One system path is
# used: the plugin's job step strips SLURM_CONF before its nested `srun`, so srun reads the
# default /etc/slurm/slurm.conf; the script links it to the private file for the duration of
# the test (refusing if a real one exists) and removes the link on exit. No accounting (no
# slurmdbd): the plugin's status check is told to use `squeue` (MinJobAge is kept at 300 s
# so finished jobs stay visible to squeue; with a lower MinJobAge the plugin falls back to
# sacct, which fails without slurmdbd).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CONFIG="$(realpath "${1:-$REPO/tests/slurm/config.yaml}")"
RUN_TIMEOUT="${SLURM_TEST_TIMEOUT:-900}"
PYTHON="${PYTHON:-python3}"

log() { printf '[slurm-test] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (it starts slurmd/slurmctld/munged)."
[[ -f "$CONFIG" ]] || die "config $CONFIG not found."

# --- software --------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    log "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
if ! "$PYTHON" -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
    log "installing snakemake-executor-plugin-slurm (pinned in pyproject.toml [slurm])"
    pin=$(grep -o 'snakemake-executor-plugin-slurm==[0-9.]*' "$REPO/pyproject.toml")
    "$PYTHON" -m pip install -q "$pin"
fi

# --- private cluster -------------------------------------------------------------------
WORK="$(mktemp -d /tmp/cg-slurm-test.XXXXXX)"
chmod 711 "$WORK"
ETC_CONF=/etc/slurm/slurm.conf
PIDS=()          # daemons we started, stopped in reverse order
cleanup() {
    local rc=$?
    set +e
    if [[ -n "${SLURM_CONF:-}" && -f "$SLURM_CONF" ]] && [[ ${#PIDS[@]} -gt 1 ]]; then
        # Cancel whatever is left in *our* private cluster, then kill job processes the
        # node still tracks (by PID), so no slurmstepd/job outlives the test.
        scancel --full --signal=KILL --user=root >/dev/null 2>&1
        for _ in $(seq 1 20); do
            [[ -z "$(squeue -h -t PD,R,CG -o %i 2>/dev/null)" ]] && break
            sleep 0.5
        done
    fi
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        local pid=${PIDS[i]}
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
    done
    if [[ $rc -ne 0 ]]; then
        for f in slurmctld.log slurmd.log munged.out; do
            [[ -f "$WORK/$f" ]] && { log "---- tail $f"; tail -n 40 "$WORK/$f" >&2; }
        done
        for f in "$WORK"/slurm/.snakemake/slurm_logs/*/*/*.log; do
            [[ -f "$f" ]] && { log "---- tail $f"; tail -n 30 "$f" >&2; }
        done
    fi
    if [[ -L "$ETC_CONF" && "$(readlink "$ETC_CONF")" == "$WORK/slurm.conf" ]]; then
        rm -f "$ETC_CONF"
    fi
    if [[ "${SLURM_TEST_KEEP:-0}" == 1 || $rc -ne 0 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

HOST="$(hostname -s)"
NODE_LINE="$(slurmd -C | head -n 1)"          # NodeName=<host> CPUs=.. RealMemory=..
REALMEM="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$NODE_LINE")"
NODE_LINE="${NODE_LINE/RealMemory=$REALMEM/RealMemory=$((REALMEM * 9 / 10))}"
mkdir -p "$WORK/state" "$WORK/spool"

mungekey -c -f -k "$WORK/munge.key"
munged -F --force --key-file="$WORK/munge.key" --socket="$WORK/munge.sock" \
    --pid-file="$WORK/munged.pid" --seed-file="$WORK/munged.seed" \
    --log-file="$WORK/munged.log" >"$WORK/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 40); do [[ -S "$WORK/munge.sock" ]] && break; sleep 0.25; done
[[ -S "$WORK/munge.sock" ]] || die "munged did not create its socket"

cat >"$WORK/slurm.conf" <<EOF
ClusterName=cgtest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$WORK/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=300
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
$NODE_LINE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$WORK/slurm.conf"
# A stale link from a killed earlier run points into a removed /tmp/cg-slurm-test.* dir.
if [[ -L "$ETC_CONF" && "$(readlink "$ETC_CONF")" == /tmp/cg-slurm-test.*/slurm.conf ]]; then
    rm -f "$ETC_CONF"
fi
[[ -e "$ETC_CONF" ]] && die "$ETC_CONF exists (a real SLURM here?); this test needs a machine without one."
mkdir -p "$(dirname "$ETC_CONF")"
ln -s "$SLURM_CONF" "$ETC_CONF"

slurmctld -D -c -f "$SLURM_CONF" >"$WORK/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" >"$WORK/slurmd.out" 2>&1 &
PIDS+=($!)

log "waiting for node $HOST to be idle"
state=""
for _ in $(seq 1 60); do
    state="$(sinfo -h -N -n "$HOST" -o %t 2>/dev/null || true)"
    [[ "$state" == idle ]] && break
    sleep 1
done
[[ "$state" == idle ]] || die "node did not become idle (state: '${state:-none}')"
sinfo >&2

# --- the workflow: through SLURM, then locally ----------------------------------------
SNAKEFILE="${SLURM_TEST_SNAKEFILE:-$REPO/Snakefile}"
SMK=("$PYTHON" -m snakemake --snakefile "$SNAKEFILE" --configfile "$CONFIG")

log "run 1: snakemake --executor slurm (profile workflow/profiles/slurm)"
mkdir -p "$WORK/slurm"
t0=$SECONDS
timeout -k 60 -s INT "$RUN_TIMEOUT" "${SMK[@]}" --directory "$WORK/slurm" \
    --workflow-profile "$REPO/workflow/profiles/slurm" \
    --slurm-status-command squeue --slurm-init-seconds-before-status-checks 2 \
    --jobs 4 \
    >"$WORK/slurm.out" 2>&1 || { tail -n 60 "$WORK/slurm.out" >&2; die "slurm run failed"; }
log "slurm run took $((SECONDS - t0)) s"
submitted="$(grep -c 'submitted to SLURM\|Job .* has been submitted with SLURM jobid' "$WORK/slurm.out" || true)"
[[ "$submitted" -ge 1 ]] || { tail -n 60 "$WORK/slurm.out" >&2; die "no job went through SLURM"; }
log "$submitted job(s) ran as SLURM jobs"

log "run 2: the same config locally"
mkdir -p "$WORK/local"
timeout -k 60 -s INT "$RUN_TIMEOUT" "${SMK[@]}" --directory "$WORK/local" --cores 2 \
    >"$WORK/local.out" 2>&1 || { tail -n 60 "$WORK/local.out" >&2; die "local run failed"; }

# --- compare: every table (tsv/json) and its checksum sidecar, byte for byte ------------
cd "$WORK/local"
mapfile -t files < <(find results -type f \( -name '*.tsv' -o -name '*.json' \) \
    -not -path 'results/benchmarks/*' | sort)
[[ ${#files[@]} -ge 1 ]] || die "the local run wrote no tables under results/"
n=0
for f in "${files[@]}"; do
    [[ -f "$WORK/slurm/$f" ]] || die "$f: made locally, missing from the SLURM run"
    cmp -s "$f" "$WORK/slurm/$f" || die "$f differs between the SLURM and the local run"
    n=$((n + 1))
done
log "PASS: $n result tables identical between SLURM and local runs"
