#!/usr/bin/env bash
# bench/create.sh: what durability costs. POST /entities with wrk
# (bench/create.lua: a unique body per request) against the release binary,
# in memory and with --data-dir, for each REST backend: creates/s, p99
# latency, fdatasyncs per create (group commit at work, from /metrics) and
# the server's CPU time per create. Then the start-up replay of a journal of
# 1M entities written through the service (`client import`, CreateEntities
# streams): the time from exec until both listening lines are printed.
# With PostgreSQL (--database-url, a fresh database per run on the server at
# BENCH_DATABASE_URL): the same row for one instance, then two instances on
# one database, wrk on each at once; GET through the hop on a database
# instance beside the memory store (reads are the index in memory); and the
# time from a create acknowledged by one instance to its arrival on a Watch
# of the other (bench/python/watch_latency.py).
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
STORES=(memory journal postgres)
BUILD=1
REPLAY=1
POSTGRES=1
# The server the database rows use; each run makes its own database there.
DATABASE_SERVER="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432}"
WATCHED=500                         # creates timed onto the other instance's Watch
DATABASES=()                        # made by this run, dropped on exit
export RUST_LOG=warn

usage() {
    cat <<EOF
Usage: bench/create.sh [--quick] [--no-build] [--no-replay] [--memory-only]
                       [--no-postgres] [--backend grpc|direct]...

POST /entities with wrk -t1 -c\$CONNECTIONS for \$DURATION s, memory-only,
with --data-dir and with --database-url, for each REST backend (default:
${BACKENDS[*]}); two instances on one database; GET through the hop on a
database instance; cross-instance Watch delivery; then the start-up time of a
service replaying a journal of \$REPLAY_ENTITIES entities.

Options:
  --quick        3 s runs and a 100k-entity replay
  --no-build     use target/release/entity-service as it is (or \$BIN)
  --no-replay    skip the replay figure
  --memory-only  no --data-dir or database runs, no replay (e.g. BIN=an
                 older build, to compare memory-only creates before and after)
  --no-postgres  no --database-url runs
  --backend B    only this REST backend (repeatable)
  -h, --help     this help

Environment: DURATION (s, default 10), CONNECTIONS (default 10),
REPLAY_ENTITIES (default 1000000), BIN (the binary to measure),
BENCH_DATABASE_URL (PostgreSQL server, default $DATABASE_SERVER; databases
named create_bench_* are made there and dropped).
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
        --memory-only) STORES=(memory) REPLAY=0 POSTGRES=0 ;;
        --no-postgres) POSTGRES=0 ;;
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
    if ((!POSTGRES)); then
        STORES=("${STORES[@]/postgres/}")
    fi
}

# fresh_database: a new, empty database on DATABASE_SERVER (dropped on
# exit); prints its URL.
fresh_database() {
    local name
    name="create_bench_$$_${#DATABASES[@]}"
    psql -qX "$DATABASE_SERVER/postgres" -c "DROP DATABASE IF EXISTS $name" \
        -c "CREATE DATABASE $name" >&2 || die "cannot create database $name on $DATABASE_SERVER"
    DATABASES+=("$name")
    echo "$DATABASE_SERVER/$name"
}

# drop_databases: the EXIT_FIRST hook: stops a second server, drops the
# databases this run made.
drop_databases() {
    if [[ -n "${OTHER_PID:-}" ]]; then
        stop_server "$OTHER_PID" 3 || true
    fi
    local name
    for name in "${DATABASES[@]}"; do
        psql -qX "$DATABASE_SERVER/postgres" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" \
            >/dev/null 2>&1 || true
    done
}

# serving: waits up to 30 s for the current server's /healthz to answer 200
# (a database instance serves once it has caught up with the table).
serving() {
    local deadline=$((SECONDS + 30))
    until curl -sf --max-time 2 "http://$HTTP_ADDR/healthz" >/dev/null; do
        ((SECONDS < deadline)) || die "the server at $HTTP_ADDR is not serving after 30 s"
        sleep 0.05
    done
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
    local commits=journal_sync_seconds
    case "$store" in
    journal) args+=(--data-dir "$WORK/data-$name") ;;
    postgres)
        args+=(--database-url "$(fresh_database)")
        commits=database_commit_seconds
        ;;
    esac
    start_server "$name" "${args[@]}"
    serving
    log "$name: wrk ${WARMUP} s warm-up, then ${DURATION} s at $CONNECTIONS connections"
    wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$LUA" "http://$HTTP_ADDR/entities" -- warmup >/dev/null
    local entities0 syncs0 synced0 ticks0 entities1 syncs1 synced1 ticks1
    entities0="$(metric entities)" syncs0="$(metric "${commits}_count")" ticks0="$(cpu_ticks)"
    synced0="$(metric "${commits}_sum")"
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$LUA" \
        "http://$HTTP_ADDR/entities" -- measured >"$WORK/$name.wrk"
    entities1="$(metric entities)" syncs1="$(metric "${commits}_count")" ticks1="$(cpu_ticks)"
    synced1="$(metric "${commits}_sum")"
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

# cpu_ticks_of PID: user + system clock ticks of that process so far.
cpu_ticks_of() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# metric_at ADDR NAME: metric NAME of the server at ADDR.
metric_at() { HTTP_ADDR="$1" metric "$2"; }

# two_instances: two instances on one fresh database, wrk at CONNECTIONS
# connections on each at once; prints a table row for both together.
two_instances() {
    local url
    url="$(fresh_database)"
    start_server pg-a --database-url "$url"
    serving
    local a_pid="$SERVER_PID" a_http="$HTTP_ADDR"
    start_server pg-b --database-url "$url"
    serving
    OTHER_PID="$a_pid"
    local b_pid="$SERVER_PID" b_http="$HTTP_ADDR"
    log "two instances: wrk ${WARMUP} s warm-up, then ${DURATION} s at $CONNECTIONS connections on each"
    # (`wait PID`: a bare `wait` would wait for the servers too.)
    wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$LUA" "http://$a_http/entities" -- warmup-a >/dev/null &
    wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$LUA" "http://$b_http/entities" -- warmup-b >/dev/null
    wait "$!"
    local c0 t0 c1 t1 e0 e1
    c0=$(($(metric_at "$a_http" database_commit_seconds_count) + $(metric_at "$b_http" database_commit_seconds_count)))
    t0=$(($(cpu_ticks_of "$a_pid") + $(cpu_ticks_of "$b_pid")))
    e0="$(metric_at "$a_http" entities)"
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$LUA" \
        "http://$a_http/entities" -- measured-a >"$WORK/pg-a.wrk" &
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$LUA" \
        "http://$b_http/entities" -- measured-b >"$WORK/pg-b.wrk"
    wait "$!"
    c1=$(($(metric_at "$a_http" database_commit_seconds_count) + $(metric_at "$b_http" database_commit_seconds_count)))
    t1=$(($(cpu_ticks_of "$a_pid") + $(cpu_ticks_of "$b_pid")))
    # Both instances hold every entity once caught up; A's count is the total.
    sleep 0.5
    e1="$(metric_at "$a_http" entities)"
    stop_current pg-b
    OTHER_PID=""
    stop_server "$a_pid" || die "pg-a exited with status $? when stopped"
    local rps_a p99_a err_a rps_b p99_b err_b
    { read -r rps_a; read -r p99_a; read -r err_a; } < <(python3 "$WRK_PY" "$WORK/pg-a.wrk" req_per_sec p99_ms problems)
    { read -r rps_b; read -r p99_b; read -r err_b; } < <(python3 "$WRK_PY" "$WORK/pg-b.wrk" req_per_sec p99_ms problems)
    local creates=$((e1 - e0))
    ((creates > 0)) || die "two instances: no entity was created"
    awk -v rps=$((${rps_a%.*} + ${rps_b%.*})) -v p99a="$p99_a" -v p99b="$p99_b" \
        -v creates="$creates" -v commits=$((c1 - c0)) -v ticks=$((t1 - t0)) \
        -v hz="$(getconf CLK_TCK)" -v errors="$err_a / $err_b" 'BEGIN {
        p99 = (p99a + 0 > p99b + 0) ? p99a : p99b
        printf "| postgres ×2 | grpc | %d | %.2f | %.3f | — | %.1f | %s |\n",
            rps, p99, commits / creates, ticks / hz * 1e6 / creates, errors }'
}

# get_cpu STORE: CPU per GET /entities/1 through the hop, memory or postgres.
get_cpu() {
    local store="$1" name="get-$1"
    local -a args=()
    [[ "$store" == memory ]] || args+=(--database-url "$(fresh_database)")
    start_server "$name" "${args[@]}"
    serving
    curl -sf -d '{"name":"read me","description":"GET bench"}' "http://$HTTP_ADDR/entities" >/dev/null
    wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "http://$HTTP_ADDR/entities/1" >/dev/null
    local ticks0 ticks1 rps
    ticks0="$(cpu_ticks)"
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://$HTTP_ADDR/entities/1" >"$WORK/$name.wrk"
    ticks1="$(cpu_ticks)"
    stop_current "$name"
    rps="$(python3 "$WRK_PY" "$WORK/$name.wrk" req_per_sec)"
    awk -v ticks=$((ticks1 - ticks0)) -v hz="$(getconf CLK_TCK)" -v rps="$rps" -v d="$DURATION" \
        'BEGIN { printf "%.1f", ticks / hz * 1e6 / (rps * d) }'
}

# watch_delivery: p50/p99/max ms from a create acknowledged on one instance
# to its arrival on a Watch of another.
watch_delivery() {
    ensure_venv
    local url
    url="$(fresh_database)"
    start_server watch-a --database-url "$url"
    serving
    local a_pid="$SERVER_PID" a_grpc="$GRPC_ADDR"
    OTHER_PID="$a_pid"
    start_server watch-b --database-url "$url"
    serving
    local figures
    figures="$("$PY" "$PYDIR/watch_latency.py" --create "$a_grpc" --watch "$GRPC_ADDR" --count "$WATCHED")" ||
        die "watch_latency.py failed"
    stop_current watch-b
    OTHER_PID=""
    stop_server "$a_pid" || die "watch-a exited with status $? when stopped"
    read -r p50 p99 most <<<"$figures"
    echo "Watch delivery across instances ($WATCHED creates on one, watched on the other):"
    echo "  p50 $p50 ms, p99 $p99 ms, max $most ms (acknowledged → arrived)"
}

# postgres_figures: the rows and lines beyond the per-store table.
postgres_figures() {
    two_instances
    echo
    local m1 p1 m2 p2
    log "GET /entities/1 through the hop: memory, postgres, memory, postgres"
    m1="$(get_cpu memory)" p1="$(get_cpu postgres)" m2="$(get_cpu memory)" p2="$(get_cpu postgres)"
    echo "GET /entities/1 through the hop, server CPU µs per request (interleaved):"
    echo "  memory $m1, $m2; postgres $p1, $p2"
    echo
    watch_delivery
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
    if ((POSTGRES)); then
        command -v psql >/dev/null || die "psql is required for the database rows (or --no-postgres)"
        psql -qX "$DATABASE_SERVER/postgres" -c 'SELECT 1' >/dev/null 2>&1 ||
            die "no PostgreSQL answers at $DATABASE_SERVER (set BENCH_DATABASE_URL, or --no-postgres)"
    fi
    if ((BUILD)); then
        log "cargo build --release"
        (cd "$ROOT" && cargo build --release >&2)
    fi
    [[ -x "$BIN" ]] || die "no binary at $BIN"
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/create-bench.XXXXXX")"
    echo "POST /entities, wrk -t1 -c$CONNECTIONS -d${DURATION}s, unique bodies ($(nproc) cores)"
    echo
    echo "| store | REST backend | creates/s | p99 ms | syncs or commits per create | mean sync or commit ms | server CPU µs per create | errors |"
    echo "|---|---|---:|---:|---:|---:|---:|---|"
    local backend store
    for backend in "${BACKENDS[@]}"; do
        for store in "${STORES[@]}"; do
            [[ -z "$store" ]] || measure "$store" "$backend"
        done
    done
    if ((POSTGRES)); then
        postgres_figures
    fi
    if ((REPLAY)); then
        replay
    fi
}

exit_traps
EXIT_FIRST=drop_databases
main "$@"
