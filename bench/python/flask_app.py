"""Flask comparison server: REST and gRPC in one Python process.

The Flask variant of the original experiment, for the benchmark: a sync
grpcio server is started in a thread, then a threaded WSGI server serves
REST. With `--mode grpc`, REST reads and writes go through a gRPC call to
the process's own gRPC server (the "hop"), on one sync channel made once
and shared by all threads; with `--mode direct` they use the list directly.
`--per-request-channel` opens a new channel per request, as a naive user
would. `--server gunicorn` (default) runs one gunicorn `gthread` worker
(one process, since the store lives in it); `--server flask` runs Flask's
threaded development server.

    bench/.venv/bin/python bench/python/flask_app.py --http-port 8000 --grpc-port 50051 --mode grpc
"""

from __future__ import annotations

import argparse
import logging

import grpc
from flask import Flask, jsonify, request

from store import EntityError, HTTP_STATUS, Store, parse_create, parse_id, pb, pb_grpc, start_grpc_server, to_dict


def create_app(store: Store, mode: str, grpc_target: str, per_request_channel: bool) -> Flask:
    app = Flask(__name__)
    shared_stub = None
    if mode == "grpc" and not per_request_channel:
        channel = grpc.insecure_channel(grpc_target)
        grpc.channel_ready_future(channel).result(timeout=10)
        shared_stub = pb_grpc.EntityServiceStub(channel)

    def rpc(method: str, req):
        if shared_stub is not None:
            return getattr(shared_stub, method)(req)
        with grpc.insecure_channel(grpc_target) as ch:
            return getattr(pb_grpc.EntityServiceStub(ch), method)(req)

    @app.errorhandler(EntityError)
    def entity_error(e: EntityError):
        return jsonify(error=e.message), e.http_status

    @app.errorhandler(grpc.RpcError)
    def rpc_error(e: grpc.RpcError):
        return jsonify(error=e.details()), HTTP_STATUS.get(e.code(), 502)

    @app.post("/")
    @app.post("/entities")
    def post_entity():
        name, description = parse_create(request.get_json(force=True, silent=True))
        if mode == "direct":
            entity_id = store.create(name, description)["id"]
        else:
            entity_id = rpc("CreateEntity", pb.CreateEntityRequest(name=name, description=description)).id
        return jsonify(id=entity_id), 201, {"Location": f"/entities/{entity_id}"}

    @app.get("/<entity_id>")
    @app.get("/entities/<entity_id>")
    def get_entity(entity_id: str):
        entity_id = parse_id(entity_id)
        if mode == "direct":
            return store.get(entity_id)
        return to_dict(rpc("GetEntity", pb.GetEntityRequest(id=entity_id)))

    return app


def announce(http_port: int, grpc_port: int) -> None:
    print(f"REST listening on http://127.0.0.1:{http_port}", flush=True)
    print(f"gRPC listening on 127.0.0.1:{grpc_port}", flush=True)


def build(args: argparse.Namespace) -> tuple[Flask, int]:
    """Starts the gRPC server in a thread, then makes the Flask app."""
    store = Store()
    _, grpc_port = start_grpc_server(store, args.grpc_port)
    app = create_app(store, args.mode, f"127.0.0.1:{grpc_port}", args.per_request_channel)
    return app, grpc_port


def run_gunicorn(args: argparse.Namespace) -> None:
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"127.0.0.1:{args.http_port}")
            self.cfg.set("workers", 1)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", args.threads)
            self.cfg.set("loglevel", "warning")
            self.cfg.set("accesslog", None)

        def load(self):
            # Runs in the worker, after the fork: gRPC must not start in the master.
            app, grpc_port = build(args)
            announce(args.http_port, grpc_port)
            return app

    Server().run()


def run_flask(args: argparse.Namespace) -> None:
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log
    app, grpc_port = build(args)
    # What app.run(threaded=True) does, split so we can announce once bound.
    server = make_server("127.0.0.1", args.http_port, app, threaded=True)
    announce(args.http_port, grpc_port)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--grpc-port", type=int, default=50051)
    parser.add_argument("--mode", choices=["grpc", "direct"], default="grpc")
    parser.add_argument("--per-request-channel", action="store_true")
    parser.add_argument("--server", choices=["gunicorn", "flask"], default="gunicorn")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn gthread threads")
    args = parser.parse_args()
    (run_gunicorn if args.server == "gunicorn" else run_flask)(args)


if __name__ == "__main__":
    main()
