#!/usr/bin/env bash
# Generates entities_pb2.py / entities_pb2_grpc.py from proto/entities.proto
# into bench/python/generated/ (git-ignored), with the venv's grpc_tools so
# the generated code matches the pinned protobuf runtime.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-$root/bench/.venv/bin/python}"
out="$here/generated"
mkdir -p "$out"
cd "$root"
"$python" -m grpc_tools.protoc -I proto --python_out="$out" --grpc_python_out="$out" proto/entities.proto
echo "stubs written to $out"
