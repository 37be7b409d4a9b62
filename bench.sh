#!/usr/bin/env bash
# bench.sh: REST throughput and latency of entity-service (Rust) against the
# Python originals (FastAPI + uvicorn, Flask + gunicorn), each with REST going
# through a gRPC call to its own gRPC server ("hop", --backend/--mode grpc) or
# straight to the store ("direct"); plus a gRPC-only figure and the memory of
# each service holding 100k entities.
#
# The script orchestrates; bench/report.py (run with bench/.venv's Python)
# parses wrk's output, takes medians, checks the targets and writes
# bench/results/latest.{md,json,png}. Run `./bench.sh --help` for options.
set -Eeuo pipefail # -E: the ERR trap below also fires inside functions

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="$ROOT/target/release/entity-service"
VENV="$ROOT/bench/.venv"
PY="$VENV/bin/python"
PYDIR="$ROOT/bench/python"
RESULTS="$ROOT/bench/results"
export RUST_LOG=warn # our server, load generator and client: warnings only, on stderr

ALL_SYSTEMS=(rust-grpc rust-direct fastapi-grpc fastapi-direct flask-grpc flask-direct)
DURATION="${DURATION:-30}"       # seconds per measured wrk run (and per gRPC load run)
CONNECTIONS="${CONNECTIONS:-10}" # wrk connections
WARMUP=3                         # seconds of discarded wrk before each run
ENTITIES=100000                  # entities imported for the memory figure
LOAD_THREADS=4                   # threads of `entity-service load`
START_TIMEOUT=30                 # seconds a server gets to print its two listening lines
STOP_TIMEOUT=10                  # seconds between SIGTERM and SIGKILL
REPEAT=1
PROFILE=full
BUILD=1
ONLY=()

usage() {
    cat <<EOF
Usage: ./bench.sh [--quick | --smoke] [--only NAME]... [--repeat N] [--no-build]

Benchmarks REST GET /{id} of six servers with wrk, one at a time on loopback:
  ${ALL_SYSTEMS[*]}
(rust = this crate's release binary; fastapi = uvicorn; flask = gunicorn gthread;
grpc = REST through a gRPC call to the process's own server, direct = the store).
Also: gRPC-only calls/s (entity-service load, $LOAD_THREADS threads) of Rust and Python
grpcio, and each service's RSS after importing $ENTITIES entities over gRPC.

Options:
  --quick        5 s runs (default: \$DURATION, 30 s)
  --smoke        1 s runs, 1 s warm-up, 2k entities, 1 s gRPC load: a CI check
                 that everything works, not a measurement
  --only NAME    run only the systems whose name contains NAME (repeatable or
                 comma-separated), e.g. --only rust --only fastapi-grpc
  --repeat N     N interleaved rounds (A B C … A B C); reports medians
  --no-build     use the existing target/release/entity-service as it is
  -h, --help     this help

Environment: DURATION (s, default 30), CONNECTIONS (default 10).
Writes bench/results/latest.md (the table, also printed on stdout),
latest.json (raw figures) and latest.png (chart); --smoke writes them under
target/bench-smoke/ instead. Progress goes to stderr.
Exit status: 0 when the benchmark ran (met targets or not), non-zero otherwise.
EOF
}

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# ---------------------------------------------------------------- options

parse_args() {
    while (($# > 0)); do
        case "$1" in
        --quick) PROFILE=quick ;;
        --smoke) PROFILE=smoke ;;
        --only)
            (($# >= 2)) || die "--only needs a NAME"
            IFS=, read -r -a names <<<"$2"
            ONLY+=("${names[@]}")
            shift
            ;;
        --only=*)
            IFS=, read -r -a names <<<"${1#--only=}"
            ONLY+=("${names[@]}")
            ;;
        --repeat)
            (($# >= 2)) || die "--repeat needs a number"
            REPEAT="$2"
            shift
            ;;
        --repeat=*) REPEAT="${1#--repeat=}" ;;
        --no-build) BUILD=0 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            die "unknown option: $1"
            ;;
        esac
        shift
    done
    [[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "--repeat wants a positive integer, got '$REPEAT'"
    case "$PROFILE" in
    quick) DURATION=5 ;;
    smoke)
        DURATION=1
        WARMUP=1
        ENTITIES=2000
        RESULTS="$ROOT/target/bench-smoke" # a check, not results to keep
        ;;
    esac
    [[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "DURATION wants whole seconds, got '$DURATION'"
    [[ "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS wants a positive integer, got '$CONNECTIONS'"

    SYSTEMS=()
    local system pattern
    for system in "${ALL_SYSTEMS[@]}"; do
        if ((${#ONLY[@]} == 0)); then
            SYSTEMS+=("$system")
            continue
        fi
        for pattern in "${ONLY[@]}"; do
            if [[ -n "$pattern" && "$system" == *"$pattern"* ]]; then
                SYSTEMS+=("$system")
                break
            fi
        done
    done
    ((${#SYSTEMS[@]} > 0)) || die "--only ${ONLY[*]} matches none of: ${ALL_SYSTEMS[*]}"
}

# ---------------------------------------------------------------- cleanup

SERVER_PID=""  # the running server (a process-group leader: started with setsid)
WORK=""        # temporary directory, removed on exit

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n "$SERVER_PID" ]]; then
        log "stopping server $SERVER_PID"
        stop_server "$SERVER_PID" 3 || true
    fi
    [[ -n "$WORK" ]] && rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
# set -e exits on any unexpected failure; say where, so it is never silent.
trap 'log "error: \"$BASH_COMMAND\" failed (status $?, line $LINENO)"' ERR
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# ---------------------------------------------------------------- prerequisites

# wrk: used when present; installed with apt-get when we are root; else explain.
ensure_wrk() {
    command -v wrk >/dev/null && return
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        log "wrk not found: installing it with apt-get"
        { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk; } >&2 ||
            die "could not install wrk with apt-get"
        command -v wrk >/dev/null || die "wrk still not found after apt-get install"
    else
        die "wrk is required and not installed. Install it with your package manager,
  e.g. 'sudo apt-get install wrk' (Debian/Ubuntu), 'sudo dnf install wrk' (Fedora),
  'brew install wrk' (macOS), or build it from https://github.com/wg/wrk"
    fi
}

build_rust() {
    if ((BUILD)); then
        log "cargo build --release"
        (cd "$ROOT" && cargo build --release) >&2 || die "cargo build --release failed"
    fi
    [[ -x "$BIN" ]] || die "$BIN missing (run without --no-build)"
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

# ---------------------------------------------------------------- servers

# Two free loopback ports, bound together so they differ ("HTTP GRPC").
free_ports() {
    "$PY" -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])'
}

# True while PID runs (a zombie, exited but not yet reaped, does not count).
alive() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat%% *}" != Z ]]
}

# start_server SYSTEM-MODE: starts it in its own process group with its
# stdout/stderr in $WORK, waits for both listening lines, and sets
# SERVER_PID, HTTP_ADDR (host:port) and GRPC_ADDR. Fails (exit) otherwise.
start_server() {
    local name="$1" impl="${1%-*}" mode="${1##*-}" ports http grpc
    local out="$WORK/$name.out" err="$WORK/$name.err"
    local -a cmd
    case "$impl" in
    rust) cmd=("$BIN" --http-addr 127.0.0.1:0 --grpc-addr 127.0.0.1:0 --backend "$mode") ;;
    fastapi | flask)
        # The Python apps print the port they were given, so pick real ones.
        read -r http grpc <<<"$(free_ports)"
        if [[ "$impl" == fastapi ]]; then
            cmd=("$PY" "$PYDIR/fastapi_app.py")
        else
            cmd=("$PY" "$PYDIR/flask_app.py" --server gunicorn)
        fi
        cmd+=(--http-port "$http" --grpc-port "$grpc" --mode "$mode")
        ;;
    *) die "unknown system $name" ;;
    esac
    : >"$out"
    setsid "${cmd[@]}" >"$out" 2>"$err" </dev/null &
    SERVER_PID=$!
    local deadline=$((SECONDS + START_TIMEOUT))
    until grep -q '^REST listening on ' "$out" && grep -q '^gRPC listening on ' "$out"; do
        local why=""
        if ! alive "$SERVER_PID"; then
            why="exited before printing both listening lines"
        elif ((SECONDS >= deadline)); then
            why="did not print both listening lines within ${START_TIMEOUT} s"
        fi
        if [[ -n "$why" ]]; then
            log "$name $why; its stdout and stderr:"
            sed 's/^/    /' "$out" "$err" | tail -30 >&2
            die "$name failed to start: ${cmd[*]}"
        fi
        sleep 0.1
    done
    HTTP_ADDR="$(sed -n 's#^REST listening on http://##p' "$out" | head -n1)"
    GRPC_ADDR="$(sed -n 's#^gRPC listening on ##p' "$out" | head -n1)"
}

# stop_server PID [TIMEOUT]: SIGTERM, wait up to TIMEOUT s (default 10), then
# SIGKILL its whole process group (e.g. a gunicorn worker left behind).
stop_server() {
    local pid="$1" timeout="${2:-$STOP_TIMEOUT}"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + timeout))
    while alive "$pid" && ((SECONDS < deadline)); do
        sleep 0.1
    done
    if alive "$pid"; then
        log "server $pid still running ${timeout} s after SIGTERM: SIGKILL"
    fi
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    [[ "$SERVER_PID" == "$pid" ]] && SERVER_PID=""
    return 0
}

# The process that owns the store: the server itself, or gunicorn's worker.
store_pid() {
    local name="$1" child
    if [[ "$name" == flask-* ]]; then
        child="$(pgrep -P "$SERVER_PID" | head -n1)"
        [[ -n "$child" ]] || die "no gunicorn worker under master $SERVER_PID"
        echo "$child"
    else
        echo "$SERVER_PID"
    fi
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# ---------------------------------------------------------------- measurements

# Entity 1, which every GET asks for; checks it reads back.
create_entity() {
    local name="$1" reply
    reply="$(curl -sS --max-time 10 -d '{"name":"bench","description":"entity one"}' "http://$HTTP_ADDR/")" ||
        die "$name: POST / failed"
    [[ "$reply" == '{"id":1}' ]] || die "$name: POST / answered '$reply', expected {\"id\":1}"
    curl -sSf --max-time 10 -o /dev/null "http://$HTTP_ADDR/1" || die "$name: GET /1 failed after creating it"
}

# The impl whose gRPC figure a system gives: rust, python, or none. The first
# selected system of each list is used: Rust's server is the same in both
# modes; Python's is store.py's grpcio server (FastAPI's in grpc mode preferred).
load_source() {
    local system="$1" impl candidate
    local -a candidates
    if [[ "$system" == rust-* ]]; then
        impl=rust candidates=(rust-grpc rust-direct)
    else
        impl=python candidates=(fastapi-grpc flask-grpc fastapi-direct flask-direct)
    fi
    for candidate in "${candidates[@]}"; do
        if is_selected "$candidate"; then
            [[ "$candidate" == "$system" ]] && echo "$impl"
            return 0
        fi
    done
}

is_selected() {
    local s
    for s in "${SYSTEMS[@]}"; do [[ "$s" == "$1" ]] && return 0; done
    return 1
}

# One measured round of one system: start, create entity 1, warm up, wrk, the
# gRPC load when this system provides it, stop.
bench_system() {
    local name="$1" round="$2" impl
    log "[$round/$REPEAT] $name: starting"
    start_server "$name"
    log "[$round/$REPEAT] $name: REST on $HTTP_ADDR, gRPC on $GRPC_ADDR; warm-up ${WARMUP} s"
    create_entity "$name"
    wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "http://$HTTP_ADDR/1" >/dev/null || die "$name: wrk warm-up failed"
    log "[$round/$REPEAT] $name: wrk ${DURATION} s"
    local result="$WORK/runs/$name.$round.wrk"
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://$HTTP_ADDR/1" >"$result" ||
        die "$name: wrk failed: $(cat "$result")"
    log "[$round/$REPEAT] $name: $("$PY" "$ROOT/bench/report.py" summary "$result")"
    alive "$SERVER_PID" || log "warning: $name exited during the run"

    impl="$(load_source "$name")"
    if [[ -n "$impl" ]]; then
        log "[$round/$REPEAT] $name: gRPC load, $LOAD_THREADS threads, ${DURATION} s on $GRPC_ADDR"
        local load="$WORK/load/$impl.$round.json"
        # Exit status 1 means some calls failed: that is in the JSON (errors), reported, not fatal.
        "$BIN" load --addr "$GRPC_ADDR" --threads "$LOAD_THREADS" --seconds "$DURATION" --id 1 --json >"$load" || true
        grep -q '"calls_per_sec"' "$load" || die "$name: entity-service load printed no result"
        echo "$name" >"$WORK/load/$impl.from"
        log "[$round/$REPEAT] $name: gRPC $(cat "$load")"
    fi
    stop_server "$SERVER_PID"
}

# ENTITIES JSON lines {"name":"entity-000001","description":<32 hex chars>}.
make_import_file() {
    "$PY" - "$ENTITIES" >"$WORK/entities.jsonl" <<'EOF'
import hashlib, json, sys
for i in range(1, int(sys.argv[1]) + 1):
    name = f"entity-{i:06d}"
    print(json.dumps({"name": name, "description": hashlib.md5(name.encode()).hexdigest()}))
EOF
}

# RSS of the store's process at start and after importing ENTITIES entities
# over CreateEntities; one per implementation (the mode does not matter).
bench_memory() {
    local impl="$1" name="$1-grpc" pid before after created role=server
    log "memory: $impl: starting"
    start_server "$name"
    pid="$(store_pid "$name")"
    [[ "$impl" == flask ]] && role="gunicorn worker"
    before="$(rss_kib "$pid")"
    log "memory: $impl: importing $ENTITIES entities over gRPC ($GRPC_ADDR)"
    "$BIN" client --addr "$GRPC_ADDR" --json --deadline-ms 600000 import "$WORK/entities.jsonl" >"$WORK/import.json" ||
        die "$impl: import failed"
    created="$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["created"])' "$WORK/import.json")"
    [[ "$created" == "$ENTITIES" ]] || die "$impl: imported $created entities, expected $ENTITIES"
    after="$(rss_kib "$pid")"
    printf 'pid_role=%s\ncreated=%s\nrss_before_kib=%s\nrss_after_kib=%s\n' \
        "$role" "$created" "$before" "$after" >"$WORK/mem/$impl.env"
    log "memory: $impl: RSS $((before / 1024)) MiB at start, $((after / 1024)) MiB after import"
    stop_server "$SERVER_PID"
}

# ---------------------------------------------------------------- main

main() {
    parse_args "$@"
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")"
    mkdir -p "$WORK/runs" "$WORK/load" "$WORK/mem" "$RESULTS"
    log "profile $PROFILE: ${DURATION} s runs, ${WARMUP} s warm-up, $CONNECTIONS connections, $REPEAT round(s); systems: ${SYSTEMS[*]}"

    ensure_wrk
    build_rust
    ensure_venv

    local round system impl
    for ((round = 1; round <= REPEAT; round++)); do
        for system in "${SYSTEMS[@]}"; do
            bench_system "$system" "$round"
        done
    done

    make_import_file
    for impl in rust fastapi flask; do
        for system in "${SYSTEMS[@]}"; do
            if [[ "$system" == "$impl"-* ]]; then
                bench_memory "$impl"
                break
            fi
        done
    done

    log "writing bench/results/latest.{md,json,png}"
    "$PY" "$ROOT/bench/report.py" report "$WORK" --out "$RESULTS" --profile "$PROFILE" \
        --wrk-cmd "wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency http://ADDR/1" \
        --duration "$DURATION" --warmup "$WARMUP" --connections "$CONNECTIONS" --repeat "$REPEAT" \
        --load-threads "$LOAD_THREADS" --invocation "./bench.sh${*:+ $*}" --systems "$(
            IFS=,
            echo "${SYSTEMS[*]}"
        )" || die "report.py failed"
    log "done"
}

main "$@"
