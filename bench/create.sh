#!/usr/bin/env bash
# bench/create.sh: what durability costs. POST /entities with wrk
# (bench/create.lua: a unique body per request) against the release binary,
# in memory and with --data-dir, for each REST backend: creates/s, p99
# latency, fdatasyncs per create (group commit at work, from /metrics) and
# the server's CPU time per create. Then the start-up replay of a journal of
# 1M entities written through the service (`client import`, CreateEntities
# streams): the time from exec until both listening lines are printed.
#
# Starting and stopping the service and reading /metrics are bench/lib.sh's,
# wrk's report is read by bench/reporting/wrk.py; both shared with bench.sh.
# Run `bench/create.sh --help` for options. Loopback only; one server at a time.
set -Eeuo pipefail # -E: the ERR trap also fires inside functions

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_TAG=create
START_TIMEOUT=120 # seconds a server gets to print its listening lines
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
WRK_PY="$ROOT/bench/reporting/wrk.py"
BIN="${BIN:-$ROOT/target/release/entity-service}"
LUA="$ROOT/bench/create.lua"
DURATION="${DURATION:-10}"          # seconds per measured wrk run
CONNECTIONS="${CONNECTIONS:-10}"    # wrk connections
REPLAY_ENTITIES="${REPLAY_ENTITIES:-1000000}"
IMPORT_CHUNK=100000                 # entities per CreateEntities call of the import
WARMUP=2                            # seconds of wrk before each measured run
BACKENDS=(grpc direct)
STORES=(memory journal)
BUILD=1
REPLAY=1
export RUST_LOG=warn

usage() {
    cat <<EOF
Usage: bench/create.sh [--quick] [--no-build] [--no-replay] [--memory-only]
                       [--backend grpc|direct]...

POST /entities with wrk -t1 -c\$CONNECTIONS for \$DURATION s, memory-only and
with --data-dir, for each REST backend (default: ${BACKENDS[*]}); then the
start-up time of a service replaying a journal of \$REPLAY_ENTITIES entities.

Options:
  --quick        3 s runs and a 100k-entity replay
  --no-build     use target/release/entity-service as it is (or \$BIN)
  --no-replay    skip the replay figure
  --memory-only  no --data-dir runs, no replay (e.g. BIN=an older build, to
                 compare memory-only creates before and after a change)
  --backend B    only this REST backend (repeatable)
  -h, --help     this help

Environment: DURATION (s, default 10), CONNECTIONS (default 10),
REPLAY_ENTITIES (default 1000000), BIN (the binary to measure).
Prints one table on stdout; progress on stderr.
EOF
}

parse_args() {
    local backends=()
    while (($# > 0)); do
        case "$1" in
        --quick) DURATION=3 REPLAY_ENTITIES=100000 ;;
        --no-build) BUILD=0 ;;
        --no-replay) REPLAY=0 ;;
        --memory-only) STORES=(memory) REPLAY=0 ;;
        --backend)
            (($# >= 2)) || die "--backend needs grpc or direct"
            backends+=("$2")
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown option $1 (see --help)" ;;
        esac
        shift
    done
    ((${#backends[@]} == 0)) || BACKENDS=("${backends[@]}")
}

# start_server NAME ARGS…: launch_server (bench/lib.sh) with the binary on
# free loopback ports and ARGS; sets SERVER_PID, HTTP_ADDR, GRPC_ADDR and
# START_MS.
start_server() {
    local name="$1"
    shift
    launch_server "$name" "$WORK" "$BIN" --http-addr 127.0.0.1:0 --grpc-addr 127.0.0.1:0 "$@"
}

# stop_current NAME: stops the running server; it must stop cleanly.
stop_current() {
    stop_server "$SERVER_PID" || die "$1 exited with status $? when stopped"
}

# cpu_ticks: user + system clock ticks of the server so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }

# measure STORE BACKEND: one wrk run against a fresh server; prints a table row.
measure() {
    local store="$1" backend="$2" name="$1-$2"
    local -a args=(--backend "$backend")
    [[ "$store" == memory ]] || args+=(--data-dir "$WORK/data-$name")
    start_server "$name" "${args[@]}"
    log "$name: wrk ${WARMUP} s warm-up, then ${DURATION} s at $CONNECTIONS connections"
    wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$LUA" "http://$HTTP_ADDR/entities" -- warmup >/dev/null
    local entities0 syncs0 synced0 ticks0 entities1 syncs1 synced1 ticks1
    entities0="$(metric entities)" syncs0="$(metric journal_sync_seconds_count)" ticks0="$(cpu_ticks)"
    synced0="$(metric journal_sync_seconds_sum)"
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$LUA" \
        "http://$HTTP_ADDR/entities" -- measured >"$WORK/$name.wrk"
    entities1="$(metric entities)" syncs1="$(metric journal_sync_seconds_count)" ticks1="$(cpu_ticks)"
    synced1="$(metric journal_sync_seconds_sum)"
    stop_current "$name"
    local rps p99 errors creates
    {
        read -r rps
        read -r p99
        read -r errors
    } < <(python3 "$WRK_PY" "$WORK/$name.wrk" req_per_sec p99_ms problems)
    creates=$((entities1 - entities0))
    ((creates > 0)) || die "$name: no entity was created: $(cat "$WORK/$name.wrk")"
    awk -v store="$store" -v backend="$backend" -v rps="$rps" -v p99="$p99" \
        -v creates="$creates" -v syncs=$((syncs1 - syncs0)) -v ticks=$((ticks1 - ticks0)) \
        -v synced0="$synced0" -v synced1="$synced1" \
        -v hz="$(getconf CLK_TCK)" -v errors="$errors" 'BEGIN {
        per = (store == "memory") ? "—" : sprintf("%.3f", syncs / creates)
        mean = (syncs > 0) ? sprintf("%.2f", (synced1 - synced0) / syncs * 1000) : "—"
        p99 = (p99 == "none") ? "—" : sprintf("%.2f", p99)
        printf "| %s | %s | %d | %s | %s | %s | %.1f | %s |\n",
            store, backend, rps, p99, per, mean, ticks / hz * 1e6 / creates, errors }'
}

# replay: writes REPLAY_ENTITIES entities through the service, stops it, then
# times a start on that directory; prints the figures.
replay() {
    local dir="$WORK/replay" lines="$WORK/import.jsonl"
    log "replay: generating $REPLAY_ENTITIES entities"
    awk -v n="$REPLAY_ENTITIES" 'BEGIN {
        for (i = 1; i <= n; i++)
            printf "{\"name\":\"entity %d\",\"description\":\"replayed entity number %d\"}\n", i, i }' >"$lines"
    split -l "$IMPORT_CHUNK" "$lines" "$WORK/chunk."
    start_server replay-write --data-dir "$dir"
    log "replay: importing them over gRPC (CreateEntities, $IMPORT_CHUNK per call)"
    local chunk
    for chunk in "$WORK"/chunk.*; do
        "$BIN" client --addr "$GRPC_ADDR" --deadline-ms 600000 import "$chunk" >/dev/null ||
            die "import of $chunk failed"
    done
    local stored
    stored="$(metric entities)"
    ((stored == REPLAY_ENTITIES)) || die "replay: $stored entities stored, $REPLAY_ENTITIES expected"
    stop_current replay-write
    local bytes
    bytes="$(stat -c %s "$dir/entities.journal")"
    log "replay: starting on the journal ($bytes bytes)"
    RUST_LOG=info start_server replay-read --data-dir "$dir"
    local logged
    logged="$(grep -o 'replayed [0-9]* entities ([0-9]* bytes) in [0-9]* ms' "$WORK/replay-read.err")"
    stored="$(metric entities)"
    stop_current replay-read
    echo
    echo "Replay: $stored entities, journal $bytes bytes ($((bytes / REPLAY_ENTITIES)) bytes per entity)"
    echo "  start-up, exec until both listening lines: $START_MS ms"
    echo "  of which the journal replay (log): ${logged:-not logged}"
}

main() {
    parse_args "$@"
    command -v wrk >/dev/null || die "wrk is required (apt-get install wrk)"
    command -v curl >/dev/null || die "curl is required"
    command -v python3 >/dev/null || die "python3 is required (it reads wrk's report)"
    if ((BUILD)); then
        log "cargo build --release"
        (cd "$ROOT" && cargo build --release >&2)
    fi
    [[ -x "$BIN" ]] || die "no binary at $BIN"
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/create-bench.XXXXXX")"
    echo "POST /entities, wrk -t1 -c$CONNECTIONS -d${DURATION}s, unique bodies ($(nproc) cores)"
    echo
    echo "| store | REST backend | creates/s | p99 ms | syncs per create | mean sync ms | server CPU µs per create | errors |"
    echo "|---|---|---:|---:|---:|---:|---:|---|"
    local backend store
    for backend in "${BACKENDS[@]}"; do
        for store in "${STORES[@]}"; do
            measure "$store" "$backend"
        done
    done
    if ((REPLAY)); then
        replay
    fi
}

exit_traps
main "$@"
