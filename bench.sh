#!/usr/bin/env bash
# bench.sh: REST throughput, latency and server CPU per request of
# entity-service (Rust) against the Rust peer (bench/rust-peer: the same
# service in tonic + axum, what a Rust user would pick instead) and the Python
# originals (FastAPI + uvicorn, Flask + gunicorn), each with REST going
# through a gRPC call to its own gRPC server ("hop", --backend/--mode grpc) or
# straight to the store ("direct");
# the hop's own cost (hop − direct CPU per request); what the nginx front
# (deploy/front.sh) costs in front of the Rust hop; a connection sweep; a
# gRPC-only figure and the memory of each service holding 100k entities.
#
# The script orchestrates; bench/lib.sh holds what it shares with the other
# bench scripts (starting and stopping a server, /proc snapshots), and
# bench/report.py (run with bench/.venv's Python) parses wrk's output and the
# snapshots, takes medians, checks the targets and writes latest.{md,json,png}.
# Run `./bench.sh --help` for options.
set -Eeuo pipefail # -E: the ERR trap below also fires inside functions

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
BIN="$ROOT/target/release/entity-service"
# The Rust peer (tonic + axum): a Cargo project of its own, with its own
# target directory (git-ignored).
PEER_DIR="$ROOT/bench/rust-peer"
PEER_BIN="$PEER_DIR/target/release/rust-peer"
PUBLISHED="$ROOT/bench/results"            # the committed reference results: --publish only
LOCAL="$ROOT/target/bench"                 # every other run, a folder each (git-ignored)
export RUST_LOG=warn                       # load generator and client: warnings only, on stderr
SERVER_RUST_LOG="${SERVER_RUST_LOG:-warn}" # the Rust server's RUST_LOG (warn: no access lines)
SERVER_ARGS="${SERVER_ARGS:-}"             # extra flags for the Rust server

ALL_SYSTEMS=(rust-grpc rust-direct rust-front peer-grpc peer-direct fastapi-grpc fastapi-direct flask-grpc flask-direct)
FRONT=rust-front # the Rust hop behind deploy/front.sh (nginx), at $CONNECTIONS connections only
SWEEP_LEVELS=(1 10 100 400) # connection counts of the sweep (full run and --sweep)
SMOKE_LEVELS=(10 400)       # --smoke's tiny sweep: the code path, and errors at the top
DEFAULT_DURATION=30         # seconds per measured wrk run (and per gRPC load run)
DEFAULT_CONNECTIONS=10      # wrk connections of the main tables
DURATION="${DURATION:-$DEFAULT_DURATION}"
CONNECTIONS="${CONNECTIONS:-$DEFAULT_CONNECTIONS}"
WARMUP=3        # seconds of discarded wrk before each measured run
ENTITIES=100000 # entities imported for the memory figure
LOAD_THREADS=4  # threads of `entity-service load`
REPEAT=1
PROFILE=full
SWEEP_ONLY=0
PUBLISH=0
OUT=""
BUILD=1
ONLY=()

usage() {
    cat <<EOF
Usage: ./bench.sh [--quick | --smoke] [--sweep] [--only NAME]... [--repeat N]
                  [--out DIR | --publish] [--no-build]

Benchmarks REST GET /{id} of eight servers with wrk, one at a time on loopback:
  ${ALL_SYSTEMS[*]}
(rust = this crate's release binary; peer = bench/rust-peer, the same service in
tonic + axum on one tokio runtime, what a Rust user would pick instead;
fastapi = uvicorn; flask = gunicorn gthread;
grpc = REST through a gRPC call to the process's own server, direct = the store;
rust-front = the Rust hop behind deploy/front.sh, nginx, whose CPU is measured
too: what the front costs per request; skipped when nginx is not installed).
For each: req/s, latency, and the server's CPU time per request (utime + stime
of its whole process tree from /proc over the measured run, ÷ requests) with
its context switches per request; from those, the hop's own cost per request
(hop − direct). Also: gRPC-only calls/s (entity-service load, $LOAD_THREADS threads)
of Rust, the peer's tonic and Python grpcio, and each service's RSS after importing
$ENTITIES entities.
A full run (no option) also sweeps ${SWEEP_LEVELS[*]} connections: about 15 minutes.

Options:
  --quick        5 s runs at \$CONNECTIONS connections only (no sweep)
  --smoke        1 s runs, 1 s warm-up, a tiny sweep (${SMOKE_LEVELS[*]} connections), 2k
                 entities, 1 s gRPC load: a CI check that everything works,
                 not a measurement
  --sweep        the connection sweep alone: ${SWEEP_LEVELS[*]} connections, hop and
                 direct, every selected system; req/s, p99, CPU per request and
                 a second chart; no gRPC load, no memory. Combines with --quick.
  --only NAME    run only the systems whose name contains NAME (repeatable or
                 comma-separated), e.g. --only rust --only peer-grpc
  --repeat N     N interleaved rounds (A B C … A B C); reports medians
  --out DIR      write the results into DIR
  --publish      write them into bench/results/, the committed reference results
                 that README quotes: only a full run of every system with the
                 default settings (no other option or variable), on a quiet machine
  --no-build     use the existing target/release/entity-service as it is (the
                 peer is built all the same when selected: cargo does nothing
                 when it is up to date, and CI's --smoke --no-build runs it too)
  -h, --help     this help

Environment: DURATION (s, default $DEFAULT_DURATION), CONNECTIONS (of the main tables,
default $DEFAULT_CONNECTIONS), SERVER_RUST_LOG (the Rust server's RUST_LOG, default warn;
info prices its access logs), SERVER_ARGS (extra flags for the Rust server,
e.g. "--http-threads 4 --grpc-completion-queues 1").

Writes latest.md (the tables, also printed on stdout), latest.json (raw
figures), latest.png (chart) and, with a sweep, latest-sweep.png into a new
folder target/bench/<UTC time>-<profile>/ (git-ignored; target/bench/latest
points to the last one) with the raw wrk outputs and /proc snapshots under
raw/, into --out DIR likewise, or with --publish into bench/results/ (tables
and charts only). Progress goes to stderr.
Exit status: 0 when the benchmark ran (met targets or not), non-zero otherwise.
EOF
}

# ---------------------------------------------------------------- options

parse_args() {
    while (($# > 0)); do
        case "$1" in
        --quick) PROFILE=quick ;;
        --smoke) PROFILE=smoke ;;
        --sweep) SWEEP_ONLY=1 ;;
        --publish) PUBLISH=1 ;;
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
        --out)
            (($# >= 2)) || die "--out needs a DIR"
            OUT="$2"
            shift
            ;;
        --out=*) OUT="${1#--out=}" ;;
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
    if ((PUBLISH)); then
        check_publishable
    fi
    LEVELS=("${SWEEP_LEVELS[@]}")
    case "$PROFILE" in
    quick)
        DURATION=5
        ((SWEEP_ONLY)) || LEVELS=()
        ;;
    smoke)
        DURATION=1
        WARMUP=1
        ENTITIES=2000
        ((SWEEP_ONLY)) || LEVELS=("${SMOKE_LEVELS[@]}")
        ;;
    esac
    [[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "DURATION wants whole seconds, got '$DURATION'"
    [[ "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS wants a positive integer, got '$CONNECTIONS'"
    # The main tables' connection count is always measured, once, in order with the rest.
    mapfile -t LEVELS < <(printf '%s\n' "${LEVELS[@]}" "$CONNECTIONS" | sort -nu)
    read -r -a SERVER_EXTRA <<<"$SERVER_ARGS"
    select_systems
    choose_results
}

# --publish replaces the reference results README quotes: only a full run of
# every system with the default settings may do that.
check_publishable() {
    local why=""
    [[ "$PROFILE" == full ]] || why="--$PROFILE"
    ((SWEEP_ONLY == 0)) || why="--sweep"
    ((${#ONLY[@]} == 0)) || why="--only"
    [[ -z "$OUT" ]] || why="--out"
    [[ "$DURATION" == "$DEFAULT_DURATION" ]] || why="DURATION=$DURATION"
    [[ "$CONNECTIONS" == "$DEFAULT_CONNECTIONS" ]] || why="CONNECTIONS=$CONNECTIONS"
    [[ "$SERVER_RUST_LOG" == warn ]] || why="SERVER_RUST_LOG=$SERVER_RUST_LOG"
    [[ -z "$SERVER_ARGS" ]] || why="SERVER_ARGS=$SERVER_ARGS"
    [[ -z "$why" ]] || die "--publish takes a full run of every system with the default settings, not $why"
}

select_systems() {
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
    if is_selected "$FRONT" && ! "$ROOT/deploy/front.sh" --which >/dev/null 2>&1; then
        log "warning: nginx is not installed (apt-get install nginx): $FRONT skipped"
        local -a kept=()
        for system in "${SYSTEMS[@]}"; do
            [[ "$system" == "$FRONT" ]] || kept+=("$system")
        done
        ((${#kept[@]} > 0)) || die "$FRONT needs nginx"
        SYSTEMS=("${kept[@]}")
    fi
}

# RESULTS: where this run's latest.* go: a new folder under the git-ignored
# target/bench/ unless --out or --publish says otherwise.
choose_results() {
    if ((PUBLISH)); then
        RESULTS="$PUBLISHED"
    elif [[ -n "$OUT" ]]; then
        mkdir -p "$OUT"
        RESULTS="$(cd "$OUT" && pwd)"
    else
        RESULTS="$LOCAL/$(date -u +%Y%m%d-%H%M%S)-$PROFILE"
        if ((SWEEP_ONLY)); then
            RESULTS+="-sweep"
        fi
    fi
    RESULTS_SHOWN="${RESULTS#"$ROOT"/}" # relative to the repository when inside it
}

# ---------------------------------------------------------------- cleanup

FRONT_PID="" # nginx in front of the server (rust-front), a process-group leader

# On exit, before lib.sh stops the server: the front.
# shellcheck disable=SC2317 # run by the EXIT trap
stop_front() {
    if [[ -n "$FRONT_PID" ]]; then
        stop_server "$FRONT_PID" 3 || true
    fi
}
EXIT_FIRST=stop_front
exit_traps

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

# The Rust peer (bench/rust-peer): its own Cargo project, lock file and
# target directory, so the main crate's build does not grow. Built whenever
# one of its systems is selected, --no-build or not.
build_peer() {
    is_selected peer-grpc || is_selected peer-direct || return 0
    log "cargo build --release --manifest-path bench/rust-peer/Cargo.toml"
    cargo build --release --manifest-path "$PEER_DIR/Cargo.toml" --target-dir "$PEER_DIR/target" >&2 ||
        die "building the Rust peer failed"
    [[ -x "$PEER_BIN" ]] || die "$PEER_BIN missing after cargo build"
}

# ---------------------------------------------------------------- servers

# start_server SYSTEM-MODE: launch_server (bench/lib.sh) with that system's
# command line; sets SERVER_PID, HTTP_ADDR and GRPC_ADDR.
start_server() {
    local name="$1" impl="${1%-*}" mode="${1##*-}" http grpc
    local -a cmd
    [[ "$name" == "$FRONT" ]] && mode=grpc
    case "$impl" in
    rust)
        cmd=(env RUST_LOG="$SERVER_RUST_LOG" "$BIN" --http-addr 127.0.0.1:0 --grpc-addr 127.0.0.1:0
            --backend "$mode" "${SERVER_EXTRA[@]}")
        ;;
    peer)
        cmd=("$PEER_BIN" --http-addr 127.0.0.1:0 --grpc-addr 127.0.0.1:0 --backend "$mode")
        ;;
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
    launch_server "$name" "$WORK" "${cmd[@]}"
    if [[ "$name" == "$FRONT" ]]; then
        start_front
    fi
}

# start_front: deploy/front.sh (nginx, no access log: the server logs none
# either) in front of the server's REST port; HTTP_ADDR becomes the front's.
start_front() {
    local port
    port="$(free_ports | cut -d' ' -f1)"
    setsid "$ROOT/deploy/front.sh" --listen "127.0.0.1:$port" --upstream "$HTTP_ADDR" \
        --prefix "$WORK/front" --no-access-log >"$WORK/front.out" 2>"$WORK/front.err" </dev/null &
    FRONT_PID=$!
    local deadline=$((SECONDS + START_TIMEOUT))
    until curl -sf --max-time 2 -o /dev/null "http://127.0.0.1:$port/healthz"; do
        if ! alive "$FRONT_PID" || ((SECONDS >= deadline)); then
            sed 's/^/    /' "$WORK/front.err" | tail -20 >&2
            die "the nginx front did not answer on 127.0.0.1:$port"
        fi
        sleep 0.1
    done
    HTTP_ADDR="127.0.0.1:$port"
}

# stop_current NAME: stops the running server; one that does not stop
# cleanly is worth a line, not a failed benchmark. Status 143 (128 + SIGTERM)
# is clean too: uvicorn re-raises the SIGTERM after its graceful shutdown.
stop_current() {
    local status=0
    if [[ -n "$FRONT_PID" ]]; then
        stop_server "$FRONT_PID" || log "warning: the nginx front exited with status $? when stopped"
        FRONT_PID=""
    fi
    stop_server "$SERVER_PID" || status=$?
    if ((status != 0 && status != 143)); then
        log "warning: $1 exited with status $status when stopped"
    fi
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

# ---------------------------------------------------------------- measurements

# Entity 1, which every GET asks for; checks it reads back.
create_entity() {
    local name="$1" reply
    reply="$(curl -sS --max-time 10 -d '{"name":"bench","description":"entity one"}' "http://$HTTP_ADDR/")" ||
        die "$name: POST / failed"
    [[ "$reply" == '{"id":1}' ]] || die "$name: POST / answered '$reply', expected {\"id\":1}"
    curl -sSf --max-time 10 -o /dev/null "http://$HTTP_ADDR/1" || die "$name: GET /1 failed after creating it"
}

# The impl whose gRPC figure a system gives: rust, peer, python, or none. The
# first selected system of each list is used: the Rust servers are the same in
# both modes; Python's is store.py's grpcio server (FastAPI's in grpc mode preferred).
load_source() {
    local system="$1" impl candidate
    local -a candidates
    if [[ "$system" == rust-* ]]; then
        impl=rust candidates=(rust-grpc rust-direct)
    elif [[ "$system" == peer-* ]]; then
        impl=peer candidates=(peer-grpc peer-direct)
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

# measure_rest NAME ROUND CONNECTIONS: a warm-up, then the measured wrk run
# between two snapshots of the server's CPU time (runs/NAME.cN.ROUND.*).
measure_rest() {
    local name="$1" round="$2" connections="$3"
    local stem="$WORK/runs/$name.c$connections.$round" tag="[$round/$REPEAT] $name, $connections conn."
    log "$tag: warm-up ${WARMUP} s, then wrk ${DURATION} s"
    wrk -t1 -c"$connections" -d"${WARMUP}s" "http://$HTTP_ADDR/1" >/dev/null || die "$name: wrk warm-up failed"
    proc_snapshot "$SERVER_PID" >"$stem.cpu0"
    [[ -z "$FRONT_PID" ]] || proc_snapshot "$FRONT_PID" >"$stem.front.cpu0"
    wrk -t1 -c"$connections" -d"${DURATION}s" --latency "http://$HTTP_ADDR/1" >"$stem.wrk" ||
        die "$name: wrk failed: $(cat "$stem.wrk")"
    proc_snapshot "$SERVER_PID" >"$stem.cpu1"
    [[ -z "$FRONT_PID" ]] || proc_snapshot "$FRONT_PID" >"$stem.front.cpu1"
    log "$tag: $("$PY" "$ROOT/bench/report.py" summary "$stem.wrk" --clk-tck "$CLK_TCK")"
    alive "$SERVER_PID" || log "warning: $name exited during the run"
}

# measure_load NAME ROUND IMPL: the gRPC load run (load/IMPL.ROUND.*), with the
# server's CPU time around it.
measure_load() {
    local name="$1" round="$2" impl="$3" stem="$WORK/load/$3.$2"
    log "[$round/$REPEAT] $name: gRPC load, $LOAD_THREADS threads, ${DURATION} s on $GRPC_ADDR"
    proc_snapshot "$SERVER_PID" >"$stem.cpu0"
    # Exit status 1 means some calls failed: that is in the JSON (errors), reported, not fatal.
    "$BIN" load --addr "$GRPC_ADDR" --threads "$LOAD_THREADS" --seconds "$DURATION" --id 1 --json >"$stem.json" || true
    proc_snapshot "$SERVER_PID" >"$stem.cpu1"
    grep -q '"calls_per_sec"' "$stem.json" || die "$name: entity-service load printed no result"
    echo "$name" >"$WORK/load/$impl.from"
    log "[$round/$REPEAT] $name: gRPC $(cat "$stem.json")"
}

# One measured round of one system: start, create entity 1, wrk at each
# connection count, the gRPC load when this system provides it, stop.
bench_system() {
    local name="$1" round="$2" connections impl=""
    log "[$round/$REPEAT] $name: starting"
    start_server "$name"
    log "[$round/$REPEAT] $name: REST on $HTTP_ADDR, gRPC on $GRPC_ADDR"
    create_entity "$name"
    local -a levels=("${LEVELS[@]}")
    [[ "$name" == "$FRONT" ]] && levels=("$CONNECTIONS")
    for connections in "${levels[@]}"; do
        measure_rest "$name" "$round" "$connections"
    done
    ((SWEEP_ONLY)) || impl="$(load_source "$name")"
    if [[ -n "$impl" ]]; then
        measure_load "$name" "$round" "$impl"
    fi
    stop_current "$name"
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
    stop_current "$name"
}

# ---------------------------------------------------------------- main

write_report() {
    local systems load_threads=0
    systems="$(IFS=, && echo "${SYSTEMS[*]}")"
    ((SWEEP_ONLY)) || load_threads=$LOAD_THREADS
    log "writing $RESULTS_SHOWN/latest.{md,json,png}"
    "$PY" "$ROOT/bench/report.py" report "$WORK" --out "$RESULTS" --shown-as "$RESULTS_SHOWN" \
        --profile "$PROFILE" --wrk-cmd "wrk -t1 -cN -d${DURATION}s --latency http://ADDR/1" \
        --duration "$DURATION" --warmup "$WARMUP" --connections "$CONNECTIONS" --repeat "$REPEAT" \
        --load-threads "$load_threads" --clk-tck "$CLK_TCK" --server-log "$SERVER_RUST_LOG" \
        --server-args "$SERVER_ARGS" --invocation "./bench.sh${INVOCATION:+ $INVOCATION}" \
        --systems "$systems" || die "report.py failed"
    if ((PUBLISH == 0)); then # keep the raw files: report.py can read them again
        mkdir -p "$RESULTS/raw"
        cp -R "$WORK/runs" "$WORK/load" "$WORK/mem" "$RESULTS/raw/"
    fi
    if [[ "$RESULTS" == "$LOCAL"/* ]]; then
        ln -sfn "$(basename "$RESULTS")" "$LOCAL/latest"
    fi
    log "done: results in $RESULTS_SHOWN/"
}

main() {
    INVOCATION="$*"
    parse_args "$@"
    CLK_TCK="$(getconf CLK_TCK)"
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")"
    mkdir -p "$WORK/runs" "$WORK/load" "$WORK/mem" "$RESULTS"
    log "profile $PROFILE: ${DURATION} s runs, ${WARMUP} s warm-up, at ${LEVELS[*]} connections," \
        "$REPEAT round(s); systems: ${SYSTEMS[*]}"

    ensure_wrk
    build_rust
    build_peer
    ensure_venv

    local round system impl
    for ((round = 1; round <= REPEAT; round++)); do
        for system in "${SYSTEMS[@]}"; do
            bench_system "$system" "$round"
        done
    done

    if ((SWEEP_ONLY == 0)); then
        make_import_file
        for impl in rust peer fastapi flask; do
            for system in "${SYSTEMS[@]}"; do
                if [[ "$system" == "$impl"-* ]]; then
                    bench_memory "$impl"
                    break
                fi
            done
        done
    fi
    write_report
}

main "$@"
