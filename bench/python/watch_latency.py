"""Cross-instance watch delivery: how long after a create is acknowledged by
one instance its entity arrives on a WatchEntities stream of another
instance on the same database.

Opens the watch on --watch first (after the current last id), then makes
--count creates one at a time on --create (gRPC CreateEntity), each at a
steady pace, and records for each id the time from its acknowledgement to
its arrival on the watch (0 when it arrived first). Prints p50, p99 and max
in milliseconds, and checks that every id arrived once, in order.

Run with bench/.venv's Python after bench/python/gen_stubs.sh.
"""

import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "generated"))

import grpc  # noqa: E402
import entities_pb2 as pb  # noqa: E402
import entities_pb2_grpc as rpc  # noqa: E402


def percentile(sorted_values, fraction):
    index = min(len(sorted_values) - 1, int(round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--create", required=True, help="gRPC HOST:PORT that creates")
    parser.add_argument("--watch", required=True, help="gRPC HOST:PORT that watches")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--interval-ms", type=float, default=2.0, help="pause between creates")
    args = parser.parse_args()

    creator = rpc.EntityServiceStub(grpc.insecure_channel(args.create))
    watcher = rpc.EntityServiceStub(grpc.insecure_channel(args.watch))
    last = 0
    for entity in watcher.ListEntities(pb.ListEntitiesRequest(start_id=1, limit=0), timeout=60):
        last = entity.id

    arrived = {}
    order = []
    ready = threading.Event()
    done = threading.Event()

    def watch():
        stream = watcher.WatchEntities(pb.WatchEntitiesRequest(after_id=last), timeout=600)
        ready.set()
        try:
            for entity in stream:
                arrived.setdefault(entity.id, time.perf_counter())
                order.append(entity.id)
                if len(order) >= args.count:
                    break
        finally:
            stream.cancel()
            done.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ready.wait(10)
    time.sleep(0.2)  # the watch is open on the server
    acknowledged = {}
    for i in range(args.count):
        reply = creator.CreateEntity(
            pb.CreateEntityRequest(name=f"watched {i}", description="watch latency"), timeout=10
        )
        acknowledged[reply.id] = time.perf_counter()
        time.sleep(args.interval_ms / 1000)
    if not done.wait(30):
        sys.exit(f"watch delivered {len(order)} of {args.count} entities within 30 s")
    expected = sorted(acknowledged)
    if order != expected:
        sys.exit(f"watch order {order[:10]}… differs from the created ids {expected[:10]}…")
    delays = sorted(max(0.0, arrived[i] - acknowledged[i]) * 1000 for i in expected)
    print(f"{percentile(delays, 0.5):.2f} {percentile(delays, 0.99):.2f} {delays[-1]:.2f}")


if __name__ == "__main__":
    main()
