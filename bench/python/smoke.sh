#!/usr/bin/env bash
# Smoke test of the Python comparison servers: makes bench/.venv if missing,
# installs the pinned requirements, generates the stubs, then starts each app
# in each mode on free loopback ports, checks POST / and GET /1 over REST and
# the servicer over gRPC, and stops the app by its PID.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$(cd "$here/.." && pwd)/.venv"
py="$venv/bin/python"

if [ ! -x "$py" ]; then
    python3 -m venv "$venv" || exit 1
fi
"$py" -m pip install -q -r "$here/requirements.txt" || exit 1
PYTHON="$py" "$here/gen_stubs.sh" >/dev/null || exit 1

free_port() { "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The servicer over gRPC: GetEntity, CreateEntity, ListEntities, CreateEntities
# and the error statuses. Runs after the REST checks created entity 1.
grpc_check() {
    "$py" - "$1" <<'EOF'
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
    curl -s -w '\n%{http_code}' -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "$2" | "$py" -c '
import json, sys
*body, code = sys.stdin.read().splitlines()
print(json.dumps(json.loads("".join(body)), sort_keys=True, separators=(",", ":")), code)'
}

# expect WHAT ACTUAL WANTED: records a failure when they differ.
expect() {
    if [ "$2" != "$3" ]; then
        echo "  FAIL $1: got '$2', want '$3'"
        ok=0
    fi
}

passed=0
failed=0
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null' EXIT
log="$(mktemp -d)"

run_case() {
    local http grpc_port base
    http="$(free_port)"
    grpc_port="$(free_port)"
    base="http://127.0.0.1:$http"
    ok=1
    echo "== $*"
    "$py" "$here/$1" "${@:2}" --http-port "$http" --grpc-port "$grpc_port" >"$log/out" 2>"$log/err" &
    pid=$!
    for _ in $(seq 100); do
        grep -q '^gRPC listening' "$log/out" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    expect "stdout" "$(cat "$log/out")" "REST listening on $base
gRPC listening on 127.0.0.1:$grpc_port"

    expect "POST /" "$(call POST "$base/" '{"name":"smoke","description":"first"}')" '{"id":1} 201'
    expect "GET /1" "$(call GET "$base/1")" '{"description":"first","id":1,"name":"smoke"} 200'
    expect "GET /entities/1" "$(call GET "$base/entities/1")" '{"description":"first","id":1,"name":"smoke"} 200'
    expect "GET /2" "$(call GET "$base/2")" '{"error":"entity 2 not found"} 404'
    expect "GET /0" "$(call GET "$base/0")" '{"error":"id must be an integer >= 1, got \"0\""} 400'
    expect "POST /entities blank" "$(call POST "$base/entities" '{"name":" "}')" '{"error":"name must not be empty"} 400'
    (cd "$here" && grpc_check "$grpc_port") || { echo "  FAIL gRPC checks"; ok=0; }

    kill "$pid" && wait "$pid" 2>/dev/null
    pid=""
    if [ "$ok" = 1 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        sed 's/^/  stderr: /' "$log/err" | tail -20
    fi
}

for mode in "--mode grpc" "--mode direct" "--mode grpc --per-request-channel"; do
    run_case fastapi_app.py $mode
    run_case flask_app.py --server gunicorn $mode
    run_case flask_app.py --server flask $mode
done
rm -rf "$log"
echo "smoke: $passed passed, $failed failed"
[ "$failed" = 0 ]
