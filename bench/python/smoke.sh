#!/usr/bin/env bash
# bench/python/smoke.sh: a smoke test of the Python comparison servers. Makes
# bench/.venv with the pinned requirements and the gRPC stubs when they are
# missing or stale, then starts each app in each mode on free loopback ports,
# checks its listening lines, POST / and GET /1 over REST and the servicer
# over gRPC, and stops it. Starting, stopping and the venv are bench/lib.sh's,
# shared with bench.sh.
#
# Usage: bench/python/smoke.sh. Exit status: 0 when every case passed.
set -Eeuo pipefail # -E: the ERR trap also fires inside functions

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOG_TAG=smoke
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# Each app's command line (after its file) is tried with each of these modes.
MODES=("--mode grpc" "--mode direct" "--mode grpc --per-request-channel")
CASES=0    # cases run so far, each in its own WORK/case-N.{out,err}
PASSED=0   # cases that passed
FAILED=0   # cases that failed
CASE_OK=1  # whether the running case has passed every check so far

# grpc_check PORT: the servicer over gRPC: GetEntity, CreateEntity,
# ListEntities, CreateEntities and the error statuses. Runs after the REST
# checks created entity 1.
grpc_check() {
    (cd "$PYDIR" && "$PY" - "$1") <<'EOF'
import sys
import grpc
from store import pb, pb_grpc

with grpc.insecure_channel(f"127.0.0.1:{sys.argv[1]}") as channel:
    stub = pb_grpc.EntityServiceStub(channel)
    assert stub.GetEntity(pb.GetEntityRequest(id=1)).name == "smoke"
    assert stub.CreateEntity(pb.CreateEntityRequest(name="two")).id == 2
    reply = stub.CreateEntities(iter([pb.CreateEntityRequest(name="three"), pb.CreateEntityRequest(name="four")]))
    assert (reply.created, list(reply.ids)) == (2, [3, 4]), reply
    assert [e.id for e in stub.ListEntities(pb.ListEntitiesRequest(start_id=2, limit=2))] == [2, 3]
    assert len(list(stub.ListEntities(pb.ListEntitiesRequest()))) == 4
    for request, code, details in [
        (pb.GetEntityRequest(id=99), grpc.StatusCode.NOT_FOUND, "entity 99 not found"),
        (pb.GetEntityRequest(id=0), grpc.StatusCode.INVALID_ARGUMENT, "id must be at least 1, got 0"),
    ]:
        try:
            stub.GetEntity(request)
            raise AssertionError(f"{request} succeeded")
        except grpc.RpcError as e:
            assert (e.code(), e.details()) == (code, details), (e.code(), e.details())
    try:
        stub.CreateEntity(pb.CreateEntityRequest(name="  "))
        raise AssertionError("blank name accepted")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e.code()
EOF
}

# call METHOD URL [JSON]: prints the body as compact, key-sorted JSON, then the status.
call() {
    curl -s -w '\n%{http_code}' -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "$2" | "$PY" -c '
import json, sys
*body, code = sys.stdin.read().splitlines()
print(json.dumps(json.loads("".join(body)), sort_keys=True, separators=(",", ":")), code)'
}

# expect WHAT ACTUAL WANTED: records a failure of the running case when they differ.
expect() {
    if [[ "$2" != "$3" ]]; then
        echo "  FAIL $1: got '$2', want '$3'"
        CASE_OK=0
    fi
}

# run_case APP ARGS...: starts bench/python/APP with ARGS on two free ports,
# checks it over REST and gRPC, stops it, and counts the case as passed or failed.
run_case() {
    local app="$1" name http grpc base
    shift
    CASES=$((CASES + 1))
    name="case-$CASES"
    read -r http grpc <<<"$(free_ports)"
    base="http://127.0.0.1:$http"
    CASE_OK=1
    echo "== $app $*"
    launch_server "$name" "$WORK" "$PY" "$PYDIR/$app" "$@" --http-port "$http" --grpc-port "$grpc"
    expect "stdout" "$(cat "$WORK/$name.out")" "REST listening on $base
gRPC listening on 127.0.0.1:$grpc"

    expect "POST /" "$(call POST "$base/" '{"name":"smoke","description":"first"}')" '{"id":1} 201'
    expect "GET /1" "$(call GET "$base/1")" '{"description":"first","id":1,"name":"smoke"} 200'
    expect "GET /entities/1" "$(call GET "$base/entities/1")" '{"description":"first","id":1,"name":"smoke"} 200'
    expect "GET /2" "$(call GET "$base/2")" '{"error":"entity 2 not found"} 404'
    expect "GET /0" "$(call GET "$base/0")" '{"error":"id must be an integer >= 1, got \"0\""} 400'
    expect "POST /entities blank" "$(call POST "$base/entities" '{"name":" "}')" '{"error":"name must not be empty"} 400'
    grpc_check "$grpc" || expect "gRPC checks" "failed" "passed"

    stop_server "$SERVER_PID" || true # uvicorn exits with 143 after a graceful stop: not a failure
    if ((CASE_OK)); then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
        sed 's/^/  stderr: /' "$WORK/$name.err" | tail -20
    fi
}

main() {
    local mode
    local -a args
    ensure_venv
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/smoke.XXXXXX")"
    for mode in "${MODES[@]}"; do
        read -r -a args <<<"$mode"
        run_case fastapi_app.py "${args[@]}"
        run_case flask_app.py --server gunicorn "${args[@]}"
        run_case flask_app.py --server flask "${args[@]}"
    done
    echo "smoke: $PASSED passed, $FAILED failed"
    ((FAILED == 0)) || exit 1
}

exit_traps
main "$@"
