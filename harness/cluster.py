"""
A real Redis Cluster on this machine, for tests: three primaries with a replica each.

Six ``redis-server --cluster-enabled yes`` processes on free ports of 127.0.0.1,
joined by ``redis-cli --cluster create … --cluster-replicas 1``. A node's
timeout is 1 s, so a killed primary's replica takes over within a few seconds.
Its :attr:`LocalCluster.url` is what ``REDIS_URL`` takes (every node listed).

Stopped and started again, the nodes come back as the same cluster (each keeps
its ``nodes.conf``): with their data if it is ``persistent`` (an append-only
file each, like production's), empty if not.
"""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from board.management.serving import LocalRedis, find_redis_server, free_port

NODE_TIMEOUT_MS = 1000
# A node also listens on its port + 10,000 for the cluster bus, so its port is at most 55,535.
HIGHEST_PORT = 65535 - 10000


def cluster_port():
    """A free port of 127.0.0.1 whose cluster bus port (10,000 above it) is free too."""
    while True:
        port = free_port()
        if port <= HIGHEST_PORT and _free(port + 10000):
            return port


def _free(port):
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class ClusterNode(LocalRedis):
    """One cluster-enabled redis-server; its cluster config lives in its own directory."""

    def command(self):
        return [
            *super().command(),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(self.directory / "nodes.conf"),
            "--cluster-node-timeout",
            str(NODE_TIMEOUT_MS),
            # A node killed mid-test must not make the cluster refuse the other slots.
            "--cluster-require-full-coverage",
            "no",
        ]

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1, decode_responses=True)


class LocalCluster:
    """Six nodes in ``directory``, three primaries and three replicas; :meth:`stop` kills every one."""

    def __init__(self, directory, size=6, persistent=False):
        self.directory = Path(directory)
        self.nodes = [
            ClusterNode(self.directory / f"node-{k}", port=cluster_port(), persistent=persistent) for k in range(size)
        ]
        self.created = False

    @property
    def url(self):
        return "redis+cluster://" + ",".join(node.address for node in self.nodes)

    def url_listing(self, node, position):
        """A cluster URL that lists ``node`` at ``position``: the channel layer's shard of that number is on it."""
        others = [other for other in self.nodes if other is not node]
        listed = [*others[:position], node, *others[position:]]
        return "redis+cluster://" + ",".join(each.address for each in listed)

    def start(self, timeout=30):
        find_redis_server()
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("No redis-cli: install it (apt-get install redis-tools).")
        try:
            for node in self.nodes:
                node.start()
            if not self.created:
                addresses = [node.address for node in self.nodes]
                subprocess.run(
                    [cli, "--cluster", "create", *addresses, "--cluster-replicas", "1", "--cluster-yes"],
                    check=True,
                    capture_output=True,
                    timeout=timeout,
                )
                self.created = True
                self.wait_ok(timeout)
                # A replica still making its first copy would lose what a failover
                # test wrote before killing its primary. (A cluster started again
                # is handed back at once: tests look at it before anyone writes.)
                for primary in self.primaries():
                    self.wait_replicated(primary, timeout)
            self.wait_ok(timeout)
        except BaseException:
            # No node may outlive a cluster that never came up.
            self.stop()
            raise
        return self

    def wait_ok(self, timeout=30, nodes=None):
        """Until every running node says ``cluster_state:ok`` and agrees on who serves all 16,384 slots."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._ok(node) for node in nodes or self.running()):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the cluster in {self.directory} was not ok within {timeout} s")

    @staticmethod
    def _ok(node):
        try:
            with node.client() as client:
                info = client.execute_command("CLUSTER", "INFO")
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False
        return "cluster_state:ok" in info and "cluster_slots_ok:16384" in info

    def wait_replicated(self, primary, timeout=15):
        """Until a replica of ``primary`` is online and has acknowledged everything written to it so far.

        ``WAIT`` on a connection of one's own would not do: it waits for that
        connection's writes only, and returns at once for a connection that made none.
        """
        deadline = time.monotonic() + timeout
        with primary.client() as client:
            while time.monotonic() < deadline:
                info = client.info("replication")
                written = info["master_repl_offset"]
                replicas = [value for key, value in info.items() if key.startswith("slave") and isinstance(value, dict)]
                if any(each.get("state") == "online" and each.get("offset", -1) >= written for each in replicas):
                    return
                time.sleep(0.05)
        raise RuntimeError(f"no replica of {primary.address} caught up within {timeout} s")

    def running(self):
        return [node for node in self.nodes if node.process is not None and node.process.poll() is None]

    def primary_of(self, key):
        """The node that is the primary of ``key``'s slot now, as its running nodes see it."""
        node = self.running()[0]
        with node.client() as client:
            slot = client.execute_command("CLUSTER", "KEYSLOT", key)
            for line in client.execute_command("CLUSTER", "NODES").splitlines():
                fields = line.split()
                address, flags = fields[1].split("@")[0], fields[2].split(",")
                if "master" in flags and "fail" not in flags and _serves(fields[8:], slot):
                    return next(n for n in self.nodes if n.address == address)
        raise LookupError(f"no primary serves slot {slot}")

    def kill_primary_of(self, key, timeout=20):
        """Kill the primary serving ``key``'s slot; return the replica promoted in its place, once all agree."""
        doomed = self.primary_of(key)
        doomed.stop(kill=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                promoted = self.primary_of(key)
            except LookupError:
                promoted = doomed
            if promoted is not doomed and all(self._ok(node) for node in self.running()):
                return promoted
            time.sleep(0.1)
        raise RuntimeError(f"no replica took over from {doomed.address} within {timeout} s")

    def primaries(self):
        found = []
        for node in self.running():
            with node.client() as client:
                if client.execute_command("ROLE")[0] == "master":
                    found.append(node)
        return found

    def flush(self):
        """Empty every primary (replicas follow)."""
        for node in self.primaries():
            with node.client() as client:
                client.flushall()

    def lose_data(self):
        """Delete what the stopped nodes would load (append-only files, RDB files): they start again empty."""
        for node in self.nodes:
            shutil.rmtree(node.directory / "appendonlydir", ignore_errors=True)
            (node.directory / "dump.rdb").unlink(missing_ok=True)

    def stop(self, kill=True):
        """Stop every node: killed, or (``kill=False``) shut down as an operator does, writing its files."""
        for node in self.nodes:
            node.stop(kill=kill)


def _serves(ranges, slot):
    for text in ranges:
        if text.startswith("["):  # a slot being migrated
            continue
        first, _, last = text.partition("-")
        if int(first) <= slot <= int(last or first):
            return True
    return False
