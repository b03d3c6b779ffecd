#!/usr/bin/env bash
# Real two-node SLURM test (issue 13, item 2). On this one machine it builds a private SLURM
# cluster whose two compute nodes are separate hosts as far as any process can tell:
#   - node1 and node2 each live in their own network, PID, UTS (hostname) and mount
#     namespaces, made here with `unshare`; a process on one node cannot see the other
#     node's processes (own /proc), hostname or network stack;
#   - the nodes reach slurmctld (root namespace) over a bridge made here: one veth pair per
#     node, addresses in a free private /24 (10.197.X.0/24) only on these interfaces, no
#     default route in the nodes and no forwarding, so no packet leaves the machine;
#   - one shared filesystem (the same /tmp tree everywhere), one munged (unix socket there);
#   - no accounting: the plugin's status checks use `squeue` (MinJobAge=300), and
#     jobcomp/filetxt records which node ran each job.
# The main Snakemake runs inside node1's namespaces; the foreign dry run and the rerun after
# SIGKILL run inside node2's. Tiny config of the stages with cross-host state: features ->
# lobes and galaxy (tests/slurm/two_nodes.yaml), through workflow/profiles/slurm. Checks:
#   1. jobs ran on both nodes (jobcomp log), submitted from node1 (run) and node2 (rerun);
#   2. `snakemake -n` started on node2 while the run is live (a job held before its commit)
#      deletes nothing: every lock (.snakemake/locks/*), incomplete marker
#      (.snakemake/incomplete/*) and temp file (results/**/.*.tmp-*) is still there after it;
#   3. after SIGKILL of the main Snakemake (and `scancel` of its jobs: the whole run killed),
#      a plain rerun on node2 finishes;
#   4. the result tables (tsv/json/npy/npz, not benchmarks) are byte-identical to a local run.
# Every daemon and namespace made here is stopped by PID, and every interface removed by
# name, on exit, whatever happens; on failure the logs are printed and the temp dir is kept.
#
# Usage (as root, Debian/Ubuntu; installs slurm-wlm, munge, iproute2 with apt if missing):
#   tests/slurm/run_slurm_test.sh
# Environment:
#   SLURM_TEST_KEEP=1        keep the temp dir (logs, both result trees) for inspection
#   SLURM_TEST_TIMEOUT=900   seconds each snakemake run may take
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CONFIG="$REPO/tests/slurm/two_nodes.yaml"
PROFILE="$REPO/workflow/profiles/slurm"
RUN_TIMEOUT="${SLURM_TEST_TIMEOUT:-900}"
TARGETS=(results/summary/features.tsv results/summary/lobes.tsv results/summary/galaxy.tsv)
PAUSED_RULE=lobes_summary              # held before its commit while node2 dry-runs
PAUSED_LOG=logs/lobes/summary.log
PAUSE_ENV=CONCEPT_GEOMETRY_PAUSE_BEFORE_COMMIT   # concept_geometry.runner.FAULT_PAUSE_ENV
# What a refused rerun prints when the killed run's lock must be cleared by the user (see
# user_step_after_foreign_kill). Snakemake's own lock refusal, plus the project's paragraph.
REFUSAL_PATTERN="${SLURM_TEST_REFUSAL_PATTERN:-Directory cannot be locked|snakemake --unlock}"

T_START=$SECONDS
log() { printf '[slurm-test %4ds] %s\n' "$((SECONDS - T_START))" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (it makes namespaces and starts slurmd/slurmctld/munged)."

# --- software --------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v ip >/dev/null || ! command -v nsenter >/dev/null; then
    log "installing slurm-wlm, munge and iproute2 with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge iproute2 util-linux procps >/dev/null
fi
PYTHON="$(python3 -c 'import sys; print(sys.executable)')"
if ! "$PYTHON" -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
    log "installing snakemake-executor-plugin-slurm (pinned in pyproject.toml [slurm])"
    pin=$(grep -o 'snakemake-executor-plugin-slurm==[0-9.]*' "$REPO/pyproject.toml")
    "$PYTHON" -m pip install -q "$pin"
fi

# --- bookkeeping and teardown ------------------------------------------------------------
WORK="$(mktemp -d /tmp/cg-slurm-test.XXXXXX)"
chmod 711 "$WORK"
TAG=$(($$ % 10000))
BRIDGE="cg${TAG}br"                     # interface names: at most 15 characters
host_if() { echo "cg${TAG}h$1"; }
node_if() { echo "cg${TAG}n$1"; }
DAEMONS=()           # munged, slurmctld (root namespace): stopped in reverse order
NODE_INIT=()         # per node: PID (root namespace view) of the node's PID-1 process
NODE_UNSHARE=()      # per node: the `unshare` process waiting on it
BG=()                # background nsenter/snakemake processes started here
LINKS=()             # interfaces made here (host ends and the bridge)

stop_pid() {  # stop_pid PID: TERM, up to 5 s, then KILL; reap if it is our child
    local pid=$1
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

dump_logs() {
    local f
    if [[ -n "${SLURM_CONF:-}" && ${#DAEMONS[@]} -ge 2 ]] && kill -0 "${DAEMONS[1]}" 2>/dev/null; then
        log "---- sinfo / squeue"
        sinfo -N >&2
        squeue -t all -o '%i %T %N %R %k' >&2
    fi
    for f in "$WORK"/slurmctld.log "$WORK"/slurmd.node*.log "$WORK"/munged.log "$WORK"/*.holder.out \
        "$WORK"/*.out; do
        [[ -s "$f" ]] && { log "---- tail $f"; tail -n 40 "$f" >&2; }
    done
    for f in "$WORK"/run/.snakemake/slurm_logs/*/*/*.log "$WORK"/run/.snakemake/slurm_logs/*/*.log; do
        [[ -f "$f" ]] && { log "---- tail $f"; tail -n 20 "$f" >&2; }
    done
    return 0
}

cleanup() {
    local rc=$?
    set +e
    trap - INT TERM
    [[ $rc -ne 0 ]] && dump_logs
    if [[ -n "${SLURM_CONF:-}" && ${#DAEMONS[@]} -ge 2 ]] && kill -0 "${DAEMONS[1]}" 2>/dev/null; then
        scancel --full --signal=KILL --user=root >/dev/null 2>&1
    fi
    local pid i
    # Killing a node's PID 1 kills everything in its PID namespace (slurmd, slurmstepd, jobs,
    # snakemake); its network namespace (with the veth end inside) goes with the last process.
    for i in "${!NODE_INIT[@]}"; do
        kill -KILL "${NODE_INIT[i]}" 2>/dev/null
    done
    for i in "${!NODE_UNSHARE[@]}"; do stop_pid "${NODE_UNSHARE[i]}"; done
    for pid in "${BG[@]}"; do stop_pid "$pid"; done
    # The local run is a process group of its own (setsid): stop the whole group.
    if [[ -n "${LOCAL_PID:-}" ]] && kill -0 "$LOCAL_PID" 2>/dev/null; then
        kill -TERM -- "-$LOCAL_PID" 2>/dev/null
        for _ in $(seq 1 20); do kill -0 -- "-$LOCAL_PID" 2>/dev/null || break; sleep 0.25; done
        kill -KILL -- "-$LOCAL_PID" 2>/dev/null
        wait "$LOCAL_PID" 2>/dev/null
    fi
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do stop_pid "${DAEMONS[i]}"; done
    for ((i = ${#LINKS[@]} - 1; i >= 0; i--)); do
        ip link show "${LINKS[i]}" >/dev/null 2>&1 && ip link delete "${LINKS[i]}"
    done
    # Verify: no interface of ours, no process of ours left.
    local left
    left="$(ip -o link show | grep -o "cg${TAG}[a-z0-9]*" | sort -u | tr '\n' ' ')"
    [[ -n "$left" ]] && { log "teardown: interfaces left: $left"; [[ $rc -eq 0 ]] && rc=1; }
    left="$(pgrep -f "$WORK" | tr '\n' ' ')"
    [[ -n "$left" ]] && { log "teardown: processes left: $left"; [[ $rc -eq 0 ]] && rc=1; }
    if [[ "${SLURM_TEST_KEEP:-0}" == 1 || $rc -ne 0 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    log "total $((SECONDS - T_START)) s, exit $rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {  # wait_for SECONDS WHAT COMMAND...: poll COMMAND every 0.5 s
    local limit=$1 what=$2
    shift 2
    local end=$((SECONDS + limit))
    until "$@"; do
        ((SECONDS < end)) || die "timed out after ${limit}s waiting for $what"
        sleep 0.5
    done
}

# --- the local reference run (root namespace, started first: it overlaps the cluster) ----
mkdir -p "$WORK/local" "$WORK/run"
SMK=("$PYTHON" -m snakemake "${TARGETS[@]}" --snakefile "$REPO/Snakefile" --configfile "$CONFIG")
log "local reference run (background)"
setsid timeout -k 30 -s INT "$RUN_TIMEOUT" "${SMK[@]}" --directory "$WORK/local" --cores 1 \
    >"$WORK/local.out" 2>&1 &
LOCAL_PID=$!

# --- network: a private /24 on a bridge made here ------------------------------------------
NET=""
for x in $(seq 77 120); do
    if ! ip -4 addr show | grep -q "inet 10\.197\.$x\." \
        && ! ip -4 route show | grep -q "^10\.197\.$x\."; then
        NET="10.197.$x"
        break
    fi
done
[[ -n "$NET" ]] || die "no free 10.197.X.0/24 on this machine (all of 77..120 in use)"
ip link add "$BRIDGE" type bridge forward_delay 0 stp_state 0
LINKS+=("$BRIDGE")
echo 1 >"/proc/sys/net/ipv6/conf/$BRIDGE/disable_ipv6" 2>/dev/null || true
ip addr add "$NET.1/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
log "bridge $BRIDGE $NET.1/24 (controller); nodes $NET.11, $NET.12"

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])'; }
CTL_PORT="$(free_port)"
mkdir -p /etc/slurm       # the nodes' bind-mount target (Debian's slurm-wlm ships it)
mkdir -p "$WORK/etc-slurm" "$WORK/state" "$WORK/spool/node1" "$WORK/spool/node2"
export SLURM_CONF="$WORK/etc-slurm/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=cgtwonode
SlurmctldHost=$(hostname -s)($NET.1)
SlurmctldPort=$CTL_PORT
SlurmdPort=6818
AuthType=auth/munge
AuthInfo=socket=$WORK/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool/%n
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.%n.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$WORK/jobcomp.log
MinJobAge=300
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=node1 NodeHostname=node1 NodeAddr=$NET.11 CPUs=1 RealMemory=3000 State=UNKNOWN
NodeName=node2 NodeHostname=node2 NodeAddr=$NET.12 CPUs=1 RealMemory=3000 State=UNKNOWN
PartitionName=debug Nodes=node1,node2 Default=YES MaxTime=INFINITE State=UP
EOF

# --- munge and the controller (root namespace) ---------------------------------------------
mungekey -c -f -k "$WORK/munge.key"
munged -F --force --key-file="$WORK/munge.key" --socket="$WORK/munge.sock" \
    --pid-file="$WORK/munged.pid" --seed-file="$WORK/munged.seed" \
    --log-file="$WORK/munged.log" >"$WORK/munged.out" 2>&1 &
DAEMONS+=($!)
wait_for 10 "munged's socket" test -S "$WORK/munge.sock"
slurmctld -D -c -f "$SLURM_CONF" >"$WORK/slurmctld.out" 2>&1 &
DAEMONS+=($!)

# --- the two nodes ---------------------------------------------------------------------------
# A node: PID 1 of new PID/UTS/mount/network namespaces, with its own /proc, hostname
# nodeN, the private slurm.conf bound over /etc/slurm (the plugin's job step strips
# SLURM_CONF before its nested srun, which then reads /etc/slurm/slurm.conf; only the nodes'
# mount namespaces see this bind mount), and loopback up.
start_node() {
    local i=$1
    unshare --net --pid --uts --mount --fork --mount-proc --propagation private \
        bash -c 'hostname "$1" && mount --bind "$2" /etc/slurm && ip link set lo up \
                 && touch "$3" || exit 1
                 trap "exit 0" TERM
                 while :; do sleep 3600 & wait $!; done' \
        node-init "node$i" "$WORK/etc-slurm" "$WORK/node$i.up" >"$WORK/node$i.holder.out" 2>&1 &
    NODE_UNSHARE[i]=$!
    wait_for 10 "node$i's namespaces" test -e "$WORK/node$i.up"
    NODE_INIT[i]="$(pgrep -P "${NODE_UNSHARE[i]}")"
    [[ "${NODE_INIT[i]}" =~ ^[0-9]+$ ]] || die "node$i: no PID 1 under unshare ${NODE_UNSHARE[i]}"
    ip link add "$(host_if "$i")" type veth peer name "$(node_if "$i")" netns "${NODE_INIT[i]}"
    LINKS+=("$(host_if "$i")")
    echo 1 >"/proc/sys/net/ipv6/conf/$(host_if "$i")/disable_ipv6" 2>/dev/null || true
    ip link set "$(host_if "$i")" master "$BRIDGE" up
    nsenter -t "${NODE_INIT[i]}" -n ip addr add "$NET.1$i/24" dev "$(node_if "$i")"
    nsenter -t "${NODE_INIT[i]}" -n ip link set "$(node_if "$i")" up
}
in_node() {  # in_node N COMMAND...: run COMMAND inside node N's namespaces (all five)
    local i=$1
    shift
    nsenter -t "${NODE_INIT[i]}" --net --pid --uts --mount -- "$@"
}
for i in 1 2; do start_node "$i"; done
[[ "$(in_node 1 hostname)" == node1 && "$(in_node 2 hostname)" == node2 ]] \
    || die "the nodes' UTS namespaces do not hold their hostnames"
# Separate PID namespaces: node2 must not see node1's init's children, and vice versa.
[[ "$(in_node 2 cat /proc/1/cmdline | tr '\0' ' ')" == *node-init*node2* ]] \
    || die "node2's /proc is not its own"
in_node 2 ip -o route | grep -q default && die "node2 has a default route (traffic could leave)"
for i in 1 2; do
    wait_for 20 "node$i to reach slurmctld at $NET.1:$CTL_PORT" \
        in_node "$i" bash -c "exec 2>/dev/null; exec 3<>/dev/tcp/$NET.1/$CTL_PORT"
    in_node "$i" slurmd -D -N "node$i" -f "$SLURM_CONF" >"$WORK/slurmd.node$i.out" 2>&1 &
    BG+=($!)
done
nodes_idle() { [[ "$(sinfo -h -N -o '%N=%t' | sort -u | tr '\n' ' ')" == "node1=idle node2=idle " ]]; }
wait_for 90 "both nodes idle" nodes_idle
log "cluster up: $(sinfo -h -N -o '%N=%t' | tr '\n' ' ')"

# --- the profile, fitted to this cluster ----------------------------------------------------
# workflow/profiles/slurm unchanged; the rules' own resources (workflow/rules/*.smk) are
# overridden for this cluster: no GPUs here (`gpu=0`: no --gpus), and 3000 MB per node, so
# every rule asks for 500 MB per attempt.
mapfile -t SET_RESOURCES < <("$PYTHON" - "$REPO/workflow/rules" <<'PY'
import re, sys
from pathlib import Path
for smk in sorted(Path(sys.argv[1]).glob("*.smk")):
    for rule, body in re.findall(r"^rule (\w+):\n((?:[ #].*\n|\n)*)", smk.read_text(), re.M):
        print(f"{rule}:mem_mb=500 * attempt")
        if re.search(r"^\s+gpu=", body, re.M):
            print(f"{rule}:gpu=0")
PY
)
SLURM_ARGS=(--directory "$WORK/run" --workflow-profile "$PROFILE"
    --slurm-status-command squeue --slurm-init-seconds-before-status-checks 2
    --slurm-keep-successful-logs
    --jobs 4 --default-resources "mem_mb=500 * attempt" "runtime=60 * attempt"
    tmpdir=system_tmpdir --set-resources "${SET_RESOURCES[@]}")

active_jobs() { squeue -h -t PD,R,CG -o %i | wc -l; }
steps_line() { grep -o '[0-9]* of [0-9]* steps' "$1" | tail -n 1; }

# --- run 1: the main Snakemake inside node1; one job held before its commit ------------------
log "run 1 on node1 (main snakemake in node1's namespaces; $PAUSED_RULE held before commit)"
env "$PAUSE_ENV=$PAUSED_RULE" nsenter -t "${NODE_INIT[1]}" --net --pid --uts --mount -- \
    "${SMK[@]}" "${SLURM_ARGS[@]}" >"$WORK/run1.out" 2>&1 &
RUN1=$!
BG+=("$RUN1")
has_child() { pgrep -P "$1" >/dev/null; }
wait_for 10 "run 1's main snakemake process" has_child "$RUN1"
MAIN_PID="$(pgrep -P "$RUN1")"
grep -q snakemake "/proc/$MAIN_PID/cmdline" || die "PID $MAIN_PID is not the main snakemake"
for ns in net pid uts mnt; do
    [[ "$(readlink "/proc/$MAIN_PID/ns/$ns")" == "$(readlink "/proc/${NODE_INIT[1]}/ns/$ns")" ]] \
        || die "the main snakemake is not in node1's $ns namespace"
done
paused() {
    kill -0 "$MAIN_PID" 2>/dev/null || { tail -n 60 "$WORK/run1.out" >&2; die "run 1 ended early"; }
    grep -qs "paused before commit" "$WORK/run/$PAUSED_LOG"
}
wait_for "$RUN_TIMEOUT" "$PAUSED_RULE to be held before its commit" paused
no_active_jobs() { [[ "$(active_jobs)" == 0 ]]; }
# Quiet state: the held job is the only job left (N-1 of N steps done, one active job), so
# nothing else can legitimately create or remove a lock, marker or temp meanwhile.
quiet() {
    local s
    s="$(steps_line "$WORK/run1.out")"
    [[ -n "$s" && "$(active_jobs)" == 1 ]] && read -r ndone _ total _ <<<"$s" \
        && ((ndone == total - 1))
}
wait_for 120 "the held job to be the only one left" quiet
log "run 1 held at $(steps_line "$WORK/run1.out") after $((SECONDS - T_START)) s (SLURM job $(squeue -h -o %i))"

# --- check 2: a dry run from node2 deletes nothing -------------------------------------------
live_state() {  # the live run's locks, incomplete markers and temp files, one path a line
    (cd "$WORK/run" && {
        find .snakemake/locks -type f 2>/dev/null
        find .snakemake/incomplete -type f ! -name migration_underway 2>/dev/null
        find results -name '.*.tmp-*' 2>/dev/null
    } | sort)
}
count_state() {
    local f=$1
    printf 'locks=%d markers=%d temps=%d' "$(grep -c '^.snakemake/locks/' "$f")" \
        "$(grep -c '^.snakemake/incomplete/' "$f")" "$(grep -c '^results/' "$f")"
}
live_state >"$WORK/state.before"
log "live state before the foreign dry run: $(count_state "$WORK/state.before")"
# The live run holds its lock, and the held job its incomplete marker and temp file; if one
# is missing already, something deleted it while the run was live (a job step on the other
# node, issue 13 item 1) - and the check below would prove nothing.
for kind in "lock:^.snakemake/locks/" "incomplete marker:^.snakemake/incomplete/" \
    "temp file:^results/"; do
    grep -q "${kind#*:}" "$WORK/state.before" \
        || die "the live run has no ${kind%%:*} (${kind#*^}) while its job is held: it was deleted during the run (a job step on another node?)"
done
log "dry run on node2: snakemake -n (cannot see node1's processes)"
dry_rc=0
in_node 2 timeout 300 "${SMK[@]}" "${SLURM_ARGS[@]}" -n >"$WORK/dryrun.out" 2>&1 || dry_rc=$?
live_state >"$WORK/state.after"
log "live state after the foreign dry run:  $(count_state "$WORK/state.after")"
gone="$(comm -23 "$WORK/state.before" "$WORK/state.after")"
if [[ -n "$gone" ]]; then
    log "removed by the dry run on node2:"
    printf '  %s\n' $gone >&2
    tail -n 20 "$WORK/dryrun.out" >&2
    die "a dry run started on another node deleted the live run's state (issue 13, item 1)"
fi
[[ $dry_rc -eq 0 ]] || { tail -n 40 "$WORK/dryrun.out" >&2; die "the dry run on node2 failed (exit $dry_rc)"; }
kill -0 "$MAIN_PID" 2>/dev/null || die "run 1 died during the foreign dry run"
log "PASS: the dry run on node2 deleted nothing"

# --- check 3: SIGKILL of the main Snakemake, then a plain rerun on node2 ---------------------
kill_whole_run() {  # SIGKILL the main snakemake; cancel its jobs (as when the allocation ends)
    kill -KILL "$MAIN_PID"
    wait "$RUN1" 2>/dev/null || true
    scancel --full --signal=KILL --user=root
    wait_for 60 "the killed run's jobs to end" no_active_jobs
}
# The documented step for a run killed on another host whose lock the rerun may not clear on
# its own: the user confirms that the run is dead, then reruns. Adapt here if the documented
# step changes (README, "Robustness").
user_step_after_foreign_kill() {
    log "user step: snakemake --unlock on node2 (the killed run was on node1)"
    in_node 2 timeout 300 "${SMK[@]}" "${SLURM_ARGS[@]}" --unlock >"$WORK/unlock.out" 2>&1 \
        || { tail -n 40 "$WORK/unlock.out" >&2; die "snakemake --unlock on node2 failed"; }
}
rerun_on_node2() {  # rerun_on_node2 OUTFILE
    in_node 2 timeout -k 30 -s INT "$RUN_TIMEOUT" "${SMK[@]}" "${SLURM_ARGS[@]}" >"$1" 2>&1
}
kill_whole_run
log "killed the main snakemake (PID $MAIN_PID) and cancelled its jobs; plain rerun on node2"
t_rerun=$SECONDS
if ! rerun_on_node2 "$WORK/rerun.out"; then
    if grep -Eq "$REFUSAL_PATTERN" "$WORK/rerun.out" && ! grep -q 'submitted with SLURM jobid' "$WORK/rerun.out"; then
        log "the plain rerun refused to start:"
        grep -E -A3 "$REFUSAL_PATTERN" "$WORK/rerun.out" | head -n 12 >&2
        user_step_after_foreign_kill
        rerun_on_node2 "$WORK/rerun2.out" \
            || { tail -n 60 "$WORK/rerun2.out" >&2; die "the rerun on node2 after the user step failed"; }
    else
        tail -n 60 "$WORK/rerun.out" >&2
        die "the plain rerun on node2 failed"
    fi
fi
log "rerun on node2 finished in $((SECONDS - t_rerun)) s"

# --- check 1: which node ran which job, and who submitted it ---------------------------------
# jobid -> rule, from the plugin's "submitted with SLURM jobid N (log: .../rule_R/...)" lines
cat "$WORK"/run1.out "$WORK"/rerun*.out \
    | sed -n 's/.*submitted with SLURM jobid \([0-9]*\).*slurm_logs\/rule_\([A-Za-z0-9_]*\).*/\1 \2/p' \
    | sort -n >"$WORK/job_rules"
[[ -s "$WORK/job_rules" ]] || die "no job went through SLURM"
log "jobs (jobid rule state node):"
completed_on=()
while read -r id rule; do
    line="$(grep "^JobId=$id " "$WORK/jobcomp.log" || true)"
    state="$(sed -n 's/.* JobState=\([A-Z_]*\).*/\1/p' <<<"$line")"
    node="$(sed -n 's/.* NodeList=\([^ ]*\).*/\1/p' <<<"$line")"
    printf '  %4s %-24s %-10s %s\n' "$id" "$rule" "${state:-?}" "${node:-?}" >&2
    [[ "$state" == COMPLETED ]] && completed_on+=("$node")
done <"$WORK/job_rules"
for n in node1 node2; do
    [[ " ${completed_on[*]} " == *" $n "* ]] || die "no job completed on $n"
done
grep -q 'submitted with SLURM jobid' "$WORK"/rerun*.out || die "the rerun on node2 submitted no SLURM job"
log "PASS: $(grep -c . "$WORK/job_rules") SLURM jobs, completed on both nodes (run 1 from node1, the rerun from node2)"

# --- check 4: byte-identical to the local run ------------------------------------------------
wait "$LOCAL_PID" || { tail -n 60 "$WORK/local.out" >&2; die "the local run failed"; }
cd "$WORK/local"
tables() {  # result tables (not benchmarks; not hidden files: temps, journals)
    find results -type f \( -name '*.tsv' -o -name '*.json' -o -name '*.npy' -o -name '*.npz' \) \
        -not -name '.*' -not -path 'results/benchmarks/*' | sort
}
mapfile -t files < <(tables)
[[ ${#files[@]} -ge 1 ]] || die "the local run wrote no tables under results/"
for f in "${files[@]}"; do
    [[ -f "$WORK/run/$f" ]] || die "$f: made locally, missing from the SLURM run"
    cmp -s "$f" "$WORK/run/$f" || die "$f differs between the SLURM and the local run"
done
extra="$(cd "$WORK/run" && tables | comm -13 <(printf '%s\n' "${files[@]}") -)"
[[ -z "$extra" ]] || die "the SLURM run has tables the local run has not: $extra"
left="$(cd "$WORK/run" && find results -name '.*.tmp-*' | wc -l)"
log "temp files of the killed run left under results/ after the rerun: $left"
log "PASS: ${#files[@]} result tables identical between the two-node SLURM run and the local run"
