# shellcheck shell=bash
# bench/lib.sh: what the bench scripts share, sourced by bench.sh,
# bench/create.sh, bench/soak.sh and bench/python/smoke.sh.
#
# Each starts a server that prints "REST listening on http://HOST:PORT" and
# "gRPC listening on HOST:PORT" on stdout, waits for those lines, loads or
# checks it, reads its /metrics or its processes' CPU time and memory from
# /proc, and stops it. Written once here so the scripts cannot drift apart.
#
# The caller sets `set -Eeuo pipefail` and may set LOG_TAG (the prefix of
# progress lines), START_TIMEOUT and STOP_TIMEOUT (seconds) before sourcing,
# and EXIT_FIRST (a function for exit_traps' EXIT trap to run first) later.

: "${LOG_TAG:=bench}"
: "${START_TIMEOUT:=30}" # seconds a server gets to print its two listening lines
: "${STOP_TIMEOUT:=10}"  # seconds between SIGTERM and SIGKILL

# The Python comparison servers (bench/python) and their venv (ensure_venv).
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$BENCH_DIR/.venv"
PY="$VENV/bin/python"
PYDIR="$BENCH_DIR/python"

# shellcheck disable=SC2034 # set here, read by the scripts that source this file
SERVER_PID="" # the running server, a process-group leader (started with setsid)
HTTP_ADDR=""  # its REST address, host:port
GRPC_ADDR=""  # its gRPC address, host:port
START_MS=""   # milliseconds from its exec until it had printed both listening lines
WORK=""       # the script's temporary directory, removed on exit

# A timestamped progress line on stderr.
log() { printf '[%s %s] %s\n' "$LOG_TAG" "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# exit_traps: on exit, whatever the cause, runs the function EXIT_FIRST if
# set (what the script started beside the server: load generators, a front),
# stops the server if one still runs, waits for background jobs and removes
# WORK, keeping the exit status. Says where an unexpected failure (set -e)
# happened, so that it is never silent; SIGINT and SIGTERM exit with 130 and
# 143 (bash runs a trap once the foreground command has returned).
exit_traps() {
    trap on_exit EXIT
    trap 'log "error: \"$BASH_COMMAND\" failed (status $?, line $LINENO)"' ERR
    trap 'log "interrupted"; exit 130' INT
    trap 'log "terminated"; exit 143' TERM
}

# The EXIT trap that exit_traps sets.
# shellcheck disable=SC2317 # run by the EXIT trap
on_exit() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n "${EXIT_FIRST:-}" ]]; then
        "$EXIT_FIRST" || true
    fi
    if [[ -n "$SERVER_PID" ]]; then
        log "stopping server $SERVER_PID"
        stop_server "$SERVER_PID" 3 || true
    fi
    wait 2>/dev/null || true
    if [[ -n "$WORK" ]]; then
        rm -rf "$WORK"
    fi
    exit "$status"
}

# Milliseconds since the epoch, from bash's own clock (no `date` process).
now_ms() {
    local micros="${EPOCHREALTIME//[.,]/}"
    echo $((micros / 1000))
}

# True while PID runs (a zombie, exited but not yet reaped, does not count).
# Reads /proc without a fork: launch_server calls it every few milliseconds.
alive() {
    local stat
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    stat="${stat##*) }"
    [[ "${stat%% *}" != Z ]]
}

# The venv bench/.venv with the pinned requirements (reinstalled when
# requirements.txt changes: a copy is kept in the venv), and fresh gRPC stubs.
ensure_venv() {
    local stamp="$VENV/.bench-requirements.txt"
    if [[ ! -x "$PY" ]]; then
        log "creating the venv $VENV"
        python3 -m venv "$VENV" >&2 || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
    fi
    if ! cmp -s "$PYDIR/requirements.txt" "$stamp"; then
        log "pip install -r bench/python/requirements.txt"
        "$PY" -m pip install -q --disable-pip-version-check -r "$PYDIR/requirements.txt" >&2 ||
            die "pip install failed"
        cp "$PYDIR/requirements.txt" "$stamp"
    fi
    PYTHON="$PY" "$PYDIR/gen_stubs.sh" >/dev/null || die "gen_stubs.sh failed"
}

# Two free loopback ports, bound together so they differ ("HTTP GRPC").
free_ports() {
    "$PY" -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])'
}

# True once FILE holds both listening lines.
listening() {
    awk '/^REST listening on / { rest = 1 } /^gRPC listening on / { grpc = 1 }
        END { exit !(rest && grpc) }' "$1"
}

# launch_server NAME DIR CMD...: starts CMD in its own session and process
# group (setsid: stop_server can then kill whatever it forked) with stdout and
# stderr in DIR/NAME.out and DIR/NAME.err, waits up to START_TIMEOUT s for
# both listening lines, and sets SERVER_PID, HTTP_ADDR, GRPC_ADDR and
# START_MS (exec to both lines, polled every 5 ms). Exits with the server's
# last lines when it dies or stays silent.
launch_server() {
    local name="$1" dir="$2"
    shift 2
    local out="$dir/$name.out" err="$dir/$name.err" why="" started
    : >"$out"
    started="$(now_ms)"
    setsid "$@" >"$out" 2>"$err" </dev/null &
    SERVER_PID=$!
    local deadline=$((SECONDS + START_TIMEOUT))
    until listening "$out"; do
        if ! alive "$SERVER_PID"; then
            why="exited before printing both listening lines"
        elif ((SECONDS >= deadline)); then
            why="did not print both listening lines within ${START_TIMEOUT} s"
        fi
        if [[ -n "$why" ]]; then
            log "$name $why; its stdout and stderr:"
            sed 's/^/    /' "$out" "$err" | tail -30 >&2
            die "$name failed to start: $*"
        fi
        sleep 0.005
    done
    # shellcheck disable=SC2034 # read by the caller
    START_MS=$(($(now_ms) - started))
    # shellcheck disable=SC2034 # read by the caller
    HTTP_ADDR="$(sed -n 's#^REST listening on http://##p' "$out" | head -n1)"
    # shellcheck disable=SC2034 # read by the caller
    GRPC_ADDR="$(sed -n 's#^gRPC listening on ##p' "$out" | head -n1)"
}

# stop_server PID [TIMEOUT]: SIGTERM, wait up to TIMEOUT s (default
# STOP_TIMEOUT), then SIGKILL its whole process group (e.g. a gunicorn worker
# left behind). Returns the server's exit status: 0 for a clean stop.
stop_server() {
    local pid="$1" timeout="${2:-$STOP_TIMEOUT}" status=0
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + timeout))
    while alive "$pid" && ((SECONDS < deadline)); do
        sleep 0.1
    done
    if alive "$pid"; then
        log "server $pid still running ${timeout} s after SIGTERM: SIGKILL"
    fi
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || status=$?
    if [[ "$SERVER_PID" == "$pid" ]]; then
        SERVER_PID=""
    fi
    return "$status"
}

# metric NAME: the value of the unlabelled series NAME on the server's
# GET /metrics, as printed there; 0 when the series is absent (the server has
# not counted anything of that kind yet). Fails when /metrics does not answer.
metric() {
    curl -sSf --max-time 10 "http://$HTTP_ADDR/metrics" |
        awk -v name="$1" '$1 == name { value = $2; found = 1 } END { print found ? value : 0 }'
}

# PID and its descendants, one per line (gunicorn: the master, then its workers).
proc_tree() {
    local child
    echo "$1"
    for child in $(pgrep -P "$1" || true); do
        proc_tree "$child"
    done
}

# proc_snapshot PID: the CPU time and context switches of PID's process tree
# so far, for bench/report.py to difference. One line per process,
#   proc PID UTIME STIME         (clock ticks, all its threads, exited ones too)
# and one per thread,
#   task PID TID VOLUNTARY NONVOLUNTARY   (context switches)
# A process or thread that ends while it is read is skipped.
proc_snapshot() {
    local pid stat
    local -a fields
    for pid in $(proc_tree "$1"); do
        stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || continue
        read -r -a fields <<<"${stat##*) }" # fields[0] is stat's field 3 (state)
        echo "proc $pid ${fields[11]} ${fields[12]}"
        cat "/proc/$pid/task/"*/status 2>/dev/null | awk -v pid="$pid" '
            $1 == "Pid:" { tid = $2 }
            $1 == "voluntary_ctxt_switches:" { voluntary = $2 }
            $1 == "nonvoluntary_ctxt_switches:" { print "task", pid, tid, voluntary, $2 }' || true
    done
}

# VmRSS of PID in KiB.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
