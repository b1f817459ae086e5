"""
What a board's batches cost Redis when the channel layer runs on a Redis Cluster.

The layer publishes each batch once to the board's group channel, and every
serving process subscribes to it on the same node (the shard its name hashes
to). On one server that is the whole cost. On a cluster a plain PUBLISH is also
sent to every other node over the cluster bus, whether or not anyone there
listens; a sharded SPUBLISH (Redis 7) goes only to the slot's primary and its
replicas. This publishes ``--messages`` messages of ``--bytes`` bytes to
``--subscribers`` subscribers, each way, and reports the CPU time of the
publishing node and of all the other nodes (``INFO cpu``) and the rate at which
all subscribers got every message. The last line is one JSON object.

    python benchmarks/cluster_pubsub.py --messages 200000
"""

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from board.management.serving import LocalRedis  # noqa: E402
from harness.cluster import LocalCluster  # noqa: E402

CHANNEL = "cb:layer:__group__board.main"


def cpu_seconds(node):
    with redis.Redis(host="127.0.0.1", port=node.port) as client:
        info = client.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def listen(port, sharded, expected, ready, done):
    client = redis.Redis(host="127.0.0.1", port=port)
    pubsub = client.pubsub()
    (pubsub.ssubscribe if sharded else pubsub.subscribe)(CHANNEL)
    # Subscribed once the server has said so, not once the command was sent.
    while (pubsub.get_message(timeout=1) or {}).get("type") not in ("subscribe", "ssubscribe"):
        pass
    ready.release()
    heard = 0
    while heard < expected:
        message = pubsub.get_message(timeout=1)
        if message is not None and message["type"] in ("message", "smessage"):
            heard += 1
    done.release()
    pubsub.close()
    client.close()


def run(node, others, args, sharded=False):
    """Publish on ``node`` to subscribers on ``node``; CPU seconds of it and of ``others``, and the rate."""
    ready, done = threading.Semaphore(0), threading.Semaphore(0)
    for _ in range(args.subscribers):
        threading.Thread(target=listen, args=(node.port, sharded, args.messages, ready, done), daemon=True).start()
    for _ in range(args.subscribers):
        ready.acquire()
    before = [cpu_seconds(each) for each in (node, *others)]
    message, command = b"x" * args.bytes, "SPUBLISH" if sharded else "PUBLISH"
    started = time.perf_counter()
    with redis.Redis(host="127.0.0.1", port=node.port) as client:
        for start in range(0, args.messages, 100):
            with client.pipeline(transaction=False) as pipe:
                for _ in range(min(100, args.messages - start)):
                    pipe.execute_command(command, CHANNEL, message)
                pipe.execute()
    for _ in range(args.subscribers):
        done.acquire()
    elapsed = time.perf_counter() - started
    after = [cpu_seconds(each) for each in (node, *others)]
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return {
        "messages_per_s": round(args.messages / elapsed),
        "node_cpu_s": round(spent[0], 2),
        "other_nodes_cpu_s": round(sum(spent[1:]), 2),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--bytes", type=int, default=200, help="size of one message (a small batch is ~100-300)")
    parser.add_argument("--subscribers", type=int, default=4, help="serving processes listening to the board")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        single = LocalRedis(Path(directory) / "single").start()
        cluster = LocalCluster(Path(directory) / "cluster").start()
        try:
            primary = cluster.primary_of(CHANNEL)
            others = [node for node in cluster.nodes if node is not primary]
            result = {
                "messages": args.messages,
                "bytes": args.bytes,
                "subscribers": args.subscribers,
                "one_server": run(single, [], args),
                "cluster_publish": run(primary, others, args),
                "cluster_spublish": run(primary, others, args, sharded=True),
            }
        finally:
            cluster.stop()
            single.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
