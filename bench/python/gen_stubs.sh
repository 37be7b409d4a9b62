#!/usr/bin/env bash
# bench/python/gen_stubs.sh: generates entities_pb2.py and
# entities_pb2_grpc.py from proto/entities.proto into bench/python/generated/
# (git-ignored), with the grpc_tools of the Python in PYTHON (default the
# venv's, bench/.venv) so the generated code matches the pinned protobuf
# runtime.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-$ROOT/bench/.venv/bin/python}"
OUT="$ROOT/bench/python/generated"

mkdir -p "$OUT"
cd "$ROOT"
"$PYTHON" -m grpc_tools.protoc -I proto --python_out="$OUT" --grpc_python_out="$OUT" proto/entities.proto
echo "stubs written to $OUT"
