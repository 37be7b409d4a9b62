"""Checks health and reflection with Python's grpcio-health-checking and
grpcio-reflection, which speak those protocols independently of our code.

Usage: bench/.venv/bin/python bench/python/third_party_check.py HOST:PORT
"""

import sys

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

SERVING = health_pb2.HealthCheckResponse.ServingStatus


def main(addr: str) -> int:
    channel = grpc.insecure_channel(addr)
    health = health_pb2_grpc.HealthStub(channel)
    for service in ["", "entities.v1.EntityService"]:
        status = health.Check(health_pb2.HealthCheckRequest(service=service)).status
        print(f"health Check {service!r}: {SERVING.Name(status)}")
    try:
        health.Check(health_pb2.HealthCheckRequest(service="no.Such"))
        print("health Check 'no.Such': unexpectedly answered")
        return 1
    except grpc.RpcError as error:
        print(f"health Check 'no.Such': {error.code().name}")
    first = next(health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=2))
    print(f"health Watch first: {SERVING.Name(first.status)}")

    database = ProtoReflectionDescriptorDatabase(channel)
    print("reflection services:", ", ".join(database.get_services()))
    pool = DescriptorPool(database)
    service = pool.FindServiceByName("entities.v1.EntityService")
    for method in service.methods:
        print(
            f"  {method.name}: client_streaming={method.client_streaming} "
            f"server_streaming={method.server_streaming} "
            f"{method.input_type.full_name} -> {method.output_type.full_name}"
        )
    return 0 if len(service.methods) == 6 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
