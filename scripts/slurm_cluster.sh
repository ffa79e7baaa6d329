#!/usr/bin/env bash
# Start/stop a single-node SLURM cluster on a Debian 12 machine without
# systemd (daemons are started directly), so the test suite can submit
# Hydra/submitit (array) jobs to a real scheduler.
#
# Usage:
#   scripts/slurm_cluster.sh start   # install if needed, configure, start, wait for the node
#   scripts/slurm_cluster.sh stop    # stop the daemons (idempotent)
#   scripts/slurm_cluster.sh status  # sinfo/squeue lines
#
# Must run as root. `start` installs the Debian packages if missing, writes
# /etc/slurm/{slurm,cgroup,slurmdbd}.conf (an existing file not written by this
# script is backed up first) and waits until the node is idle.
# Partition: `debug` (default). Logs: /var/log/slurm/*.log.
#
# Accounting: submitit learns job states from `sacct`, which only works with
# slurmdbd, so by default a local MariaDB (unix socket only) and slurmdbd run
# too. SLURM_ACCOUNTING=0 skips them (sacct then fails with "Slurm accounting
# storage is disabled" and submitit only sees jobs that wrote a result).
set -euo pipefail

CONF_DIR=/etc/slurm
LOG_DIR=/var/log/slurm
MARK="# Written by scripts/slurm_cluster.sh; re-running it overwrites this file."
NODE=$(hostname -s)
ACCOUNTING=${SLURM_ACCOUNTING:-1}
DAEMONS=(slurmd slurmctld munged)
if ((ACCOUNTING)); then DAEMONS=(slurmd slurmctld slurmdbd mariadbd munged); fi

die() { echo "slurm_cluster: $*" >&2; exit 1; }

install_if_missing() {
    local pkgs=(slurm-wlm munge) d
    if ((ACCOUNTING)); then pkgs+=(slurmdbd mariadb-server); fi
    for d in "${DAEMONS[@]}" sbatch; do
        if ! command -v "$d" >/dev/null; then
            echo "Installing ${pkgs[*]}..."
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq
            apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
            return
        fi
    done
}

# write_conf FILE: write stdin to FILE, backing up a file this script did not write.
write_conf() {
    local file=$1
    if [[ -f $file ]] && ! grep -qxF "$MARK" "$file"; then
        cp -p "$file" "$file.bak.$(date +%Y%m%d%H%M%S)"
    fi
    { echo "$MARK"; cat; } >"$file"
}

configure() {
    local cpus mem acct=none
    cpus=$(nproc)
    mem=$(free -m | awk '/^Mem:/ {print int($2 * 0.95)}')
    if ((ACCOUNTING)); then acct=slurmdbd; fi
    mkdir -p "$CONF_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd
    write_conf "$CONF_DIR/slurm.conf" <<EOF
ClusterName=local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
MaxArraySize=10001
MaxJobCount=100000
KillWait=5
SlurmdTimeout=60
InactiveLimit=0
MinJobAge=300
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=$((mem / cpus))
AccountingStorageType=accounting_storage/$acct
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    write_conf "$CONF_DIR/cgroup.conf" <<EOF
CgroupPlugin=cgroup/v1
IgnoreSystemd=yes
EOF
    if ((ACCOUNTING)); then
        write_conf "$CONF_DIR/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
LogFile=$LOG_DIR/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
EOF
        chmod 0600 "$CONF_DIR/slurmdbd.conf"
    fi
}

start_munge() {
    local key=/etc/munge/munge.key err
    [[ -f $key ]] || mungekey -c -k "$key"
    chown munge:munge "$key" && chmod 0400 "$key"
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    err=$(runuser -u munge -- munged 2>&1) || die "munged failed to start: $err"
    munge -n | unmunge >/dev/null || die "munge credential round trip failed"
}

# MariaDB for slurmdbd: no network; root logs in through unix_socket auth.
start_mariadb() {
    [[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql >/dev/null
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    setsid mariadbd --user=mysql --skip-networking --innodb-buffer-pool-size=256M \
        --innodb-lock-wait-timeout=900 >>"$LOG_DIR/mariadbd.log" 2>&1 </dev/null &
    for _ in $(seq 60); do
        mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db" 2>/dev/null && return
        sleep 0.5
    done
    echo "slurm_cluster: mariadbd did not come up; last lines of its log:" >&2
    tail -n 20 "$LOG_DIR/mariadbd.log" >&2
    exit 1
}

# start_slurm DAEMON CHECK...: start DAEMON in daemon mode, wait (up to 30 s)
# until the command CHECK succeeds; on failure show why and exit.
start_slurm() {
    local d=$1 err
    shift
    if err=$("$d" 2>&1); then
        for _ in $(seq 30); do
            pgrep -x "$d" >/dev/null || break
            "$@" >/dev/null 2>&1 && return
            sleep 1
        done
    fi
    pkill -KILL -x "$d" || true
    {
        echo "slurm_cluster: $d failed to start. $err"
        echo "--- last lines of $LOG_DIR/$d.log:"
        tail -n 20 "$LOG_DIR/$d.log" 2>/dev/null || true
        echo "--- $d -D -vvv (5 s):"
        timeout 5 "$d" -D -vvv 2>&1 | tail -n 30 || true
    } >&2
    exit 1
}

node_state() { sinfo -h -n "$NODE" -o %t 2>/dev/null | head -n1 || true; }

wait_for_node() {
    local resumed=0 state=""
    for _ in $(seq 60); do
        state=$(node_state)
        case $state in
            idle | mix | alloc) return ;;
            down* | drain* | drng*)
                if ((!resumed)); then
                    scontrol update nodename="$NODE" state=resume || true
                    resumed=1
                fi ;;
        esac
        sleep 1
    done
    {
        echo "slurm_cluster: node $NODE never became idle (state: '${state:-none}')"
        scontrol show node "$NODE" 2>&1 | grep -E 'State=|Reason=' || true
        echo "--- last lines of $LOG_DIR/slurmctld.log:"; tail -n 15 "$LOG_DIR/slurmctld.log" || true
        echo "--- last lines of $LOG_DIR/slurmd.log:"; tail -n 15 "$LOG_DIR/slurmd.log" || true
    } >&2
    exit 1
}

all_running() {
    local d
    for d in "${DAEMONS[@]}"; do pgrep -x "$d" >/dev/null || return 1; done
    [[ $(node_state) =~ ^(idle|mix|alloc)$ ]]
}

start() {
    [[ $EUID -eq 0 ]] || die "must run as root"
    if all_running; then
        echo "SLURM already running."
        return
    fi
    install_if_missing
    stop >/dev/null
    configure
    start_munge
    if ((ACCOUNTING)); then
        start_mariadb
        start_slurm slurmdbd sacctmgr -n list cluster
    fi
    start_slurm slurmctld scontrol ping
    start_slurm slurmd pgrep -x slurmd
    wait_for_node
    status
}

any_running() {
    local d
    for d in "$@"; do pgrep -x "$d" >/dev/null && return 0; done
    return 1
}

# stop_all NAME...: SIGTERM by exact name, SIGKILL whatever is left after ~10 s.
stop_all() {
    local d
    for d in "$@"; do pkill -x "$d" || true; done
    for _ in $(seq 20); do
        any_running "$@" || return 0
        sleep 0.5
    done
    for d in "$@"; do pkill -KILL -x "$d" || true; done
    sleep 1
}

stop() {
    stop_all slurmd slurmctld slurmdbd
    stop_all mariadbd munged
    echo "SLURM stopped."
}

status() {
    sinfo
    squeue
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 {start|stop|status}" >&2; exit 2 ;;
esac
