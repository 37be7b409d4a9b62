#!/usr/bin/env bash
# Soak test: mixed REST + gRPC load against one service on loopback for a
# bounded time (default 10 minutes), then checks that nothing failed, that
# every created id is readable, and reports RSS over time.
#
# Load, all at once: wrk on REST (creates, gets, lists), gRPC GetEntity load,
# gRPC CreateEntities imports, and WatchEntities streams opening and closing.
# Starting and stopping the service and reading /metrics are bench/lib.sh's,
# shared with bench.sh and bench/create.sh.
# Run `bench/soak.sh --help` for options.
set -Eeuo pipefail # -E: the ERR trap below also fires inside functions

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_TAG=soak
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
BIN="$ROOT/target/release/entity-service"
export RUST_LOG=warn # the service and the clients: warnings only, on stderr

DURATION=600     # seconds of load
SAMPLE_EVERY=10  # seconds between RSS samples
IMPORT_BATCH=100 # entities per CreateEntities stream, about one stream a second
WATCHES=4        # WatchEntities streams open at once
WATCH_REPLAY=100 # each replays the last WATCH_REPLAY entities, then follows live ones
WATCH_DEADLINE_MS=2000
BUILD=1
LOADS=() # the background load generators

usage() {
    cat <<EOF
Usage: bench/soak.sh [--duration SECONDS] [--no-build]

Runs mixed REST and gRPC load against one release build of the service on
loopback for SECONDS (default $DURATION): wrk on REST (1 create in 10, lists
now and then, gets otherwise), \`entity-service load\` (GetEntity), a
CreateEntities import of $IMPORT_BATCH entities about every second, and $WATCHES
WatchEntities streams at a time that each replay the last $WATCH_REPLAY entities
and follow live ones until their ${WATCH_DEADLINE_MS} ms deadline. Then checks:
no REST error, no gRPC load error, no failed import or watch, the stored ids
are exactly 1..N, and the service stops cleanly on SIGTERM. Prints RSS every
$SAMPLE_EVERY s.

Options:
  --duration S   seconds of load (default $DURATION)
  --no-build     use the existing target/release/entity-service as it is
  -h, --help     this help
Exit status: 0 when every check passed, 1 otherwise.
EOF
}

parse_args() {
    while (($# > 0)); do
        case "$1" in
        --duration)
            (($# >= 2)) || die "--duration needs SECONDS"
            DURATION="$2"
            shift
            ;;
        --duration=*) DURATION="${1#--duration=}" ;;
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
    [[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "--duration wants whole seconds, got '$DURATION'"
}

# On exit, before lib.sh stops the server: the load generators.
# shellcheck disable=SC2317 # run by the EXIT trap
stop_loads() {
    local pid
    for pid in "${LOADS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
}
EXIT_FIRST=stop_loads
exit_traps

# REST mix: 1 create per 10 requests, lists now and then, gets otherwise.
start_rest_load() {
    cat >"$WORK/mix.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  if n % 10 == 0 then
    return wrk.format("POST", "/entities", {["Content-Type"] = "application/json"},
      '{"name":"soak-' .. n .. '","description":"from wrk"}')
  elseif n % 10 == 5 then
    return wrk.format("GET", "/entities?start_id=" .. (n % 500 + 1) .. "&limit=20")
  end
  return wrk.format("GET", "/entities/1")
end
done = function(summary, latency, requests)
  io.write(string.format("wrk: %d requests, %d errors (connect %d, read %d, write %d, timeout %d), p99 %.2f ms\n",
    summary.requests, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(99) / 1000))
end
LUA
    wrk -t1 -c8 -d"${DURATION}s" -s "$WORK/mix.lua" "http://$HTTP_ADDR" >"$WORK/wrk" 2>&1 &
    LOADS+=("$!")
}

# gRPC GetEntity load, 2 threads.
start_grpc_load() {
    "$BIN" load --addr "$GRPC_ADDR" --threads 2 --seconds "$DURATION" --json >"$WORK/load" 2>&1 &
    LOADS+=("$!")
}

# gRPC imports until END (epoch seconds); the failure count goes to import.fails.
import_loop() {
    local end="$1" fails=0 i
    for ((i = 1; i <= IMPORT_BATCH; i++)); do
        echo "{\"name\":\"import-$i\",\"description\":\"via CreateEntities\"}"
    done >"$WORK/batch.jsonl"
    while (($(date +%s) < end)); do
        "$BIN" client --addr "$GRPC_ADDR" import "$WORK/batch.jsonl" >/dev/null 2>>"$WORK/import.err" ||
            fails=$((fails + 1))
        sleep 1
    done
    echo "$fails" >"$WORK/import.fails"
}

# Watches opening and closing until END, WATCHES at a time; the failure count
# goes to watch.fails. Each ends at its deadline: exit status 6.
watch_loop() {
    local end="$1" fails=0 stored job i
    while (($(date +%s) < end)); do
        stored="$(metric entities)"
        for ((i = 0; i < WATCHES; i++)); do
            "$BIN" client --addr "$GRPC_ADDR" watch --after-id $((stored - WATCH_REPLAY)) \
                --deadline-ms "$WATCH_DEADLINE_MS" >/dev/null 2>"$WORK/watch.err" &
        done
        for job in $(jobs -p); do
            wait "$job" || (($? == 6)) || fails=$((fails + 1)) # 6 = DEADLINE_EXCEEDED, the expected end
        done
    done
    echo "$fails" >"$WORK/watch.fails"
}

# RSS and stored entities every SAMPLE_EVERY s until DURATION has passed.
sample_rss() {
    local elapsed=0
    echo "time_s rss_kib entities" >"$WORK/rss"
    while ((elapsed < DURATION)); do
        sleep "$SAMPLE_EVERY" &
        wait "$!" # not a foreground sleep: a signal's trap runs at once, not after it
        elapsed=$((elapsed + SAMPLE_EVERY))
        echo "$elapsed $(rss_kib "$SERVER_PID") $(metric entities)" >>"$WORK/rss"
    done
}

# Prints what the soak saw, then checks it: each failed check sets FAILED.
report_and_check() {
    local count listed last_id start_rss end_rss
    count="$(metric entities)"
    listed="$("$BIN" client --addr "$GRPC_ADDR" --deadline-ms 600000 --json list | wc -l)"
    last_id="$("$BIN" client --addr "$GRPC_ADDR" --json list --start-id "$count" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')"
    start_rss="$(awk 'NR == 2 { print $2 }' "$WORK/rss")"
    end_rss="$(rss_kib "$SERVER_PID")"
    curl -s "http://$HTTP_ADDR/metrics" | grep '^http_requests_total' | grep -v 'code="20[01]"' >"$WORK/non2xx" || true

    echo "== soak: $DURATION s"
    grep '^wrk:' "$WORK/wrk" || cat "$WORK/wrk"
    echo "grpc load: $(cat "$WORK/load")"
    echo "import failures: $(cat "$WORK/import.fails" 2>/dev/null || echo '?')," \
        "watch failures: $(cat "$WORK/watch.fails" 2>/dev/null || echo '?')"
    if [[ -s "$WORK/import.err" ]]; then
        sort "$WORK/import.err" | uniq -c | sort -rn | head -3 | sed 's/^/  import error: /'
    fi
    if [[ -s "$WORK/non2xx" ]]; then
        sed 's/^/  non-2xx: /' "$WORK/non2xx"
    fi
    echo "entities: $count stored, $listed listed, last id $last_id"
    echo "RSS: ${start_rss} KiB after $SAMPLE_EVERY s, ${end_rss} KiB at the end; samples (s, KiB, entities):"
    column -t "$WORK/rss" | sed 's/^/  /'

    grep -q ', 0 errors (connect 0, read 0, write 0, timeout 0)' "$WORK/wrk" || fail "REST errors"
    grep -q '"errors":0' "$WORK/load" || fail "gRPC load errors"
    [[ "$(cat "$WORK/import.fails" 2>/dev/null)" == 0 ]] || fail "import failures"
    [[ "$(cat "$WORK/watch.fails" 2>/dev/null)" == 0 ]] || fail "watch failures"
    [[ "$listed" == "$count" && "$last_id" == "$count" ]] || fail "stored ids are not 1..$count"
    stop_server "$SERVER_PID" || fail "service did not exit cleanly"
}

FAILED=0
fail() {
    echo "FAIL: $*" >&2
    FAILED=1
}

main() {
    parse_args "$@"
    command -v wrk >/dev/null || die "wrk is required (apt-get install -y wrk)"
    if ((BUILD)); then
        (cd "$ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
    fi
    [[ -x "$BIN" ]] || die "$BIN missing (run without --no-build)"
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")"

    launch_server service "$WORK" "$BIN" --http-addr 127.0.0.1:0 --grpc-addr 127.0.0.1:0
    curl -sf -d '{"name":"soak","description":"entity one"}' "http://$HTTP_ADDR/" >/dev/null ||
        die "POST / failed"
    log "$DURATION s against REST $HTTP_ADDR and gRPC $GRPC_ADDR"

    local end=$(($(date +%s) + DURATION))
    start_rest_load
    start_grpc_load
    import_loop "$end" &
    LOADS+=("$!")
    watch_loop "$end" &
    LOADS+=("$!")
    sample_rss
    wait "${LOADS[@]}" 2>/dev/null || true
    LOADS=()
    report_and_check
    exit "$FAILED"
}

main "$@"
