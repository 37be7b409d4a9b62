"""The in-process entity store and gRPC server shared by the Python comparison apps.

The original Python experiment kept entities in a list of dicts and served
them over gRPC (grpcio, sync server in a thread) and REST from one process.
This module is that store and servicer, written once so the FastAPI and
Flask apps differ only in their REST layer. It follows the Rust service's
contract (proto/entities.proto, package entities.v1): ids 1, 2, 3, …;
NOT_FOUND `entity {id} not found`; INVALID_ARGUMENT for id < 1 or a bad name.

Run bench/python/gen_stubs.sh first: the stubs are generated, not committed.
"""

from __future__ import annotations

import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc

GENERATED = Path(__file__).resolve().parent / "generated"
if not (GENERATED / "entities_pb2_grpc.py").exists():
    sys.exit(f"missing gRPC stubs in {GENERATED}: run bench/python/gen_stubs.sh")
sys.path.insert(0, str(GENERATED))

import entities_pb2 as pb  # noqa: E402
import entities_pb2_grpc as pb_grpc  # noqa: E402

MAX_NAME_BYTES = 256
MAX_DESCRIPTION_BYTES = 4096

# gRPC status → HTTP status for the REST layer (as the Rust gateway maps them).
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.UNAVAILABLE: 503,
}


class EntityError(Exception):
    """A failed store operation, carrying the gRPC status it maps to."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)


class Store:
    """Entities as a list of dicts; entity `n` is at index `n - 1`."""

    def __init__(self) -> None:
        self._entities: list[dict] = []
        self._lock = threading.Lock()

    def get(self, entity_id: int) -> dict:
        if entity_id < 1:
            raise EntityError(grpc.StatusCode.INVALID_ARGUMENT, f"id must be at least 1, got {entity_id}")
        with self._lock:
            if entity_id <= len(self._entities):
                return self._entities[entity_id - 1]
        raise EntityError(grpc.StatusCode.NOT_FOUND, f"entity {entity_id} not found")

    def create(self, name: str, description: str = "") -> dict:
        check_new(name, description)
        with self._lock:
            entity = {"id": len(self._entities) + 1, "name": name, "description": description}
            self._entities.append(entity)
        return entity

    def list(self, start_id: int = 1, limit: int = 0) -> list[dict]:
        """Id order from max(start_id, 1); `limit` 0 means all."""
        start = max(start_id, 1) - 1
        with self._lock:
            return self._entities[start : start + limit if limit else None]


def check_new(name: str, description: str) -> None:
    """The Rust service's create rules, with its messages."""
    if not name.strip():
        raise EntityError(grpc.StatusCode.INVALID_ARGUMENT, "name must not be empty")
    if (n := len(name.encode())) > MAX_NAME_BYTES:
        raise EntityError(grpc.StatusCode.INVALID_ARGUMENT, f"name is {n} bytes; at most {MAX_NAME_BYTES} allowed")
    if (n := len(description.encode())) > MAX_DESCRIPTION_BYTES:
        raise EntityError(
            grpc.StatusCode.INVALID_ARGUMENT, f"description is {n} bytes; at most {MAX_DESCRIPTION_BYTES} allowed"
        )


def parse_id(text: str) -> int:
    """A REST path id: an integer >= 1, else INVALID_ARGUMENT (HTTP 400)."""
    try:
        entity_id = int(text)
    except ValueError:
        entity_id = 0
    if entity_id < 1:
        raise EntityError(grpc.StatusCode.INVALID_ARGUMENT, f'id must be an integer >= 1, got "{text}"')
    return entity_id


def parse_create(body: object) -> tuple[str, str]:
    """A REST create body `{"name": str, "description": str?}` → (name, description)."""
    if not isinstance(body, dict):
        raise EntityError(grpc.StatusCode.INVALID_ARGUMENT, "request body must be a JSON object")
    name, description = body.get("name"), body.get("description") or ""
    if name is None:
        raise EntityError(grpc.StatusCode.INVALID_ARGUMENT, "name is required")
    if not isinstance(name, str):
        raise EntityError(grpc.StatusCode.INVALID_ARGUMENT, "name must be a string")
    if not isinstance(description, str):
        raise EntityError(grpc.StatusCode.INVALID_ARGUMENT, "description must be a string")
    return name, description


def to_dict(entity: pb.Entity) -> dict:
    return {"id": entity.id, "name": entity.name, "description": entity.description}


def to_message(entity: dict) -> pb.Entity:
    return pb.Entity(**entity)


class EntityService(pb_grpc.EntityServiceServicer):
    """entities.v1.EntityService over a Store (Watch and Lookup are not needed)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def GetEntity(self, request, context):
        try:
            return to_message(self.store.get(request.id))
        except EntityError as e:
            context.abort(e.code, e.message)

    def CreateEntity(self, request, context):
        try:
            return to_message(self.store.create(request.name, request.description))
        except EntityError as e:
            context.abort(e.code, e.message)

    def ListEntities(self, request, context):
        for entity in self.store.list(request.start_id, request.limit):
            yield to_message(entity)

    def CreateEntities(self, request_iterator, context):
        # Each entity is stored as it arrives, as the Rust service does.
        ids = []
        try:
            for request in request_iterator:
                ids.append(self.store.create(request.name, request.description)["id"])
        except EntityError as e:
            context.abort(e.code, e.message)
        return pb.CreateEntitiesResponse(created=len(ids), ids=ids)


def start_grpc_server(store: Store, port: int, max_workers: int = 10) -> tuple[grpc.Server, int]:
    """Starts a sync grpcio server on 127.0.0.1:port in a thread, as the original did.

    Returns once the server is serving, with the bound port (useful for port 0).
    """
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers))
    pb_grpc.add_EntityServiceServicer_to_server(EntityService(store), server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    if not bound:
        raise OSError(f"cannot listen for gRPC on 127.0.0.1:{port}")
    started = threading.Event()

    def run() -> None:
        server.start()
        started.set()
        server.wait_for_termination()

    threading.Thread(target=run, name="grpc-server", daemon=True).start()
    started.wait()
    return server, bound
