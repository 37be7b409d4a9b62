"""FastAPI + uvicorn comparison server: REST and gRPC in one Python process.

Reproduces the original experiment for the benchmark: a sync grpcio server
is started in a thread, then uvicorn serves REST. With `--mode grpc`, REST
reads and writes go through a gRPC call to the process's own gRPC server
(the "hop"), on one `grpc.aio` channel made at startup and shared; with
`--mode direct` they use the list directly. `--per-request-channel` opens
a new channel per request, as a naive user would.

    bench/.venv/bin/python bench/python/fastapi_app.py --http-port 8000 --grpc-port 50051 --mode grpc
"""

from __future__ import annotations

import argparse
from contextlib import asynccontextmanager

import grpc
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from store import EntityError, HTTP_STATUS, Store, parse_create, parse_id, pb, pb_grpc, start_grpc_server, to_dict


def create_app(store: Store, mode: str, grpc_target: str, per_request_channel: bool) -> FastAPI:
    state: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # grpc.aio binds to the running loop, so the shared channel is made here,
        # once, and every request uses its stub.
        if mode == "grpc" and not per_request_channel:
            state["channel"] = grpc.aio.insecure_channel(grpc_target)
            state["stub"] = pb_grpc.EntityServiceStub(state["channel"])
            await state["channel"].channel_ready()
        yield
        if "channel" in state:
            await state["channel"].close()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    async def rpc(method: str, request):
        if per_request_channel:
            async with grpc.aio.insecure_channel(grpc_target) as ch:
                return await getattr(pb_grpc.EntityServiceStub(ch), method)(request)
        return await getattr(state["stub"], method)(request)

    async def get(entity_id: int) -> dict:
        if mode == "direct":
            return store.get(entity_id)
        return to_dict(await rpc("GetEntity", pb.GetEntityRequest(id=entity_id)))

    async def create(name: str, description: str) -> int:
        if mode == "direct":
            return store.create(name, description)["id"]
        return (await rpc("CreateEntity", pb.CreateEntityRequest(name=name, description=description))).id

    @app.exception_handler(EntityError)
    async def entity_error(_: Request, e: EntityError) -> JSONResponse:
        return JSONResponse({"error": e.message}, status_code=e.http_status)

    @app.exception_handler(grpc.aio.AioRpcError)
    async def rpc_error(_: Request, e: grpc.aio.AioRpcError) -> JSONResponse:
        return JSONResponse({"error": e.details()}, status_code=HTTP_STATUS.get(e.code(), 502))

    @app.post("/", status_code=201)
    @app.post("/entities", status_code=201)
    async def post_entity(request: Request):
        try:
            body = await request.json()
        except ValueError as e:
            return JSONResponse({"error": f"request body is not valid JSON: {e}"}, status_code=400)
        entity_id = await create(*parse_create(body))
        return JSONResponse({"id": entity_id}, status_code=201, headers={"Location": f"/entities/{entity_id}"})

    @app.get("/{entity_id}")
    @app.get("/entities/{entity_id}")
    async def get_entity(entity_id: str):
        return await get(parse_id(entity_id))

    return app


class AnnouncingServer(uvicorn.Server):
    """Prints the listening lines once uvicorn's sockets are open."""

    def __init__(self, config: uvicorn.Config, grpc_port: int) -> None:
        super().__init__(config)
        self.grpc_port = grpc_port

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            print(f"REST listening on http://127.0.0.1:{self.config.port}", flush=True)
            print(f"gRPC listening on 127.0.0.1:{self.grpc_port}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--grpc-port", type=int, default=50051)
    parser.add_argument("--mode", choices=["grpc", "direct"], default="grpc")
    parser.add_argument("--per-request-channel", action="store_true")
    args = parser.parse_args()

    store = Store()
    _, grpc_port = start_grpc_server(store, args.grpc_port)
    app = create_app(store, args.mode, f"127.0.0.1:{grpc_port}", args.per_request_channel)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.http_port,
        loop="uvloop",
        http="httptools",
        workers=1,
        log_level="warning",
        access_log=False,
    )
    AnnouncingServer(config, grpc_port).run()


if __name__ == "__main__":
    main()
