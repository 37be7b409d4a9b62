#!/usr/bin/env bash
# Soak test: mixed REST + gRPC load against one service on loopback for a
# bounded time (default 10 minutes), then checks that nothing failed, that
# every created id is readable, and reports RSS over time.
#
#   bench/soak.sh [--duration SECONDS]
#
# Load, all at once: wrk on REST (creates, gets, lists), gRPC GetEntity load,
# gRPC CreateEntities imports, and WatchEntities streams opening and closing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

duration=600
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

command -v wrk >/dev/null || { echo "soak: wrk is required (apt-get install -y wrk)" >&2; exit 1; }
cargo build --release --quiet
bin=target/release/entity-service
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

RUST_LOG=warn "$bin" --http-addr 127.0.0.1:0 --grpc-addr 127.0.0.1:0 >"$work/out" 2>"$work/err" &
service=$!
pids+=("$service")
for _ in $(seq 100); do [ "$(wc -l <"$work/out")" -ge 2 ] && break; sleep 0.1; done
http=$(sed -n 's|^REST listening on http://||p' "$work/out")
grpc=$(sed -n 's|^gRPC listening on ||p' "$work/out")
[ -n "$http" ] && [ -n "$grpc" ] || { echo "soak: service did not start" >&2; cat "$work/err" >&2; exit 1; }
curl -sf -d '{"name":"soak","description":"entity one"}' "http://$http/" >/dev/null

rss() { awk '/VmRSS/ {print $2}' "/proc/$service/status"; }
echo "soak: $duration s against REST $http and gRPC $grpc" >&2

# REST mix: 1 create per 10 requests, lists now and then, gets otherwise.
cat >"$work/mix.lua" <<'LUA'
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
wrk -t1 -c8 -d"${duration}s" -s "$work/mix.lua" "http://$http" >"$work/wrk" 2>&1 &
pids+=("$!")
"$bin" load --addr "$grpc" --threads 2 --seconds "$duration" --json >"$work/load" 2>&1 &
pids+=("$!")

end=$(( $(date +%s) + duration ))
# gRPC imports: 100 entities per stream, about one stream a second.
(
  for i in $(seq 100); do echo "{\"name\":\"import-$i\",\"description\":\"via CreateEntities\"}"; done >"$work/batch.jsonl"
  fails=0
  while [ "$(date +%s)" -lt "$end" ]; do
    "$bin" client --addr "$grpc" import "$work/batch.jsonl" >/dev/null 2>>"$work/import.err" || fails=$((fails + 1))
    sleep 1
  done
  echo "$fails" >"$work/import.fails"
) &
pids+=("$!")
# Watches opening and closing: each replays the last 100 entities, follows
# live ones for 2 s (its deadline), four at a time.
(
  fails=0
  while [ "$(date +%s)" -lt "$end" ]; do
    stored=$(curl -s "http://$http/metrics" | awk '$1 == "entities" {print $2}')
    for _ in 1 2 3 4; do
      "$bin" client --addr "$grpc" watch --after-id $(( ${stored:-0} - 100 )) --deadline-ms 2000 >/dev/null 2>"$work/watch.err" &
    done
    for job in $(jobs -p); do
      wait "$job" || [ $? -eq 6 ] || fails=$((fails + 1))  # 6 = DEADLINE_EXCEEDED, the expected end
    done
  done
  echo "$fails" >"$work/watch.fails"
) &
pids+=("$!")

start_rss=""
echo "time_s rss_kib entities" >"$work/rss"
elapsed=0
while [ "$elapsed" -lt "$duration" ]; do
  sleep 10; elapsed=$((elapsed + 10))
  entities=$(curl -s "http://$http/metrics" | awk '$1 == "entities" {print $2}')
  now=$(rss); [ -n "$start_rss" ] || start_rss=$now
  echo "$elapsed $now $entities" >>"$work/rss"
done
wait "${pids[1]}" "${pids[2]}" "${pids[3]}" "${pids[4]}" 2>/dev/null || true

# Every created id must be readable, in order, with no gap.
count=$(curl -s "http://$http/metrics" | awk '$1 == "entities" {print $2}')
listed=$("$bin" client --addr "$grpc" --deadline-ms 600000 --json list | wc -l)
last_id=$("$bin" client --addr "$grpc" --json list --start-id "$count" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
end_rss=$(rss)
curl -s "http://$http/metrics" | grep '^http_requests_total' | grep -v 'code="20[01]"' >"$work/non2xx" || true

echo "== soak: $duration s"
cat "$work/wrk" | grep '^wrk:' || cat "$work/wrk"
echo "grpc load: $(cat "$work/load")"
echo "import failures: $(cat "$work/import.fails" 2>/dev/null || echo '?'), watch failures: $(cat "$work/watch.fails" 2>/dev/null || echo '?')"
sort "$work/import.err" 2>/dev/null | uniq -c | sort -rn | head -3 | sed 's/^/  import error: /'
[ -s "$work/non2xx" ] && sed 's/^/  non-2xx: /' "$work/non2xx"
echo "entities: $count stored, $listed listed, last id $last_id"
echo "RSS: ${start_rss} KiB after 10 s, ${end_rss} KiB at the end; samples (s, KiB, entities):"
column -t "$work/rss" | sed 's/^/  /'

status=0
grep -q ', 0 errors (connect 0, read 0, write 0, timeout 0)' "$work/wrk" || { echo "FAIL: REST errors" >&2; status=1; }
grep -q '"errors":0' "$work/load" || { echo "FAIL: gRPC load errors" >&2; status=1; }
[ "$(cat "$work/import.fails" 2>/dev/null)" = 0 ] || { echo "FAIL: import failures" >&2; status=1; }
[ "$(cat "$work/watch.fails" 2>/dev/null)" = 0 ] || { echo "FAIL: watch failures" >&2; status=1; }
[ "$listed" = "$count" ] && [ "$last_id" = "$count" ] || { echo "FAIL: stored ids are not 1..$count" >&2; status=1; }
kill -TERM "$service"; wait "$service" || { echo "FAIL: service did not exit cleanly" >&2; status=1; }
exit "$status"
