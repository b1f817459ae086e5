"""
Redis clients for one server or for a Redis Cluster, chosen by ``REDIS_URL``'s scheme.

``redis://``, ``rediss://`` and ``unix://`` name one server. ``redis+cluster://``
(``rediss+cluster://`` over TLS) names a cluster by one or more of its nodes,
comma-separated: ``redis+cluster://10.0.0.1:7000,10.0.0.2:7000``. The cluster
clients learn the rest of the cluster from whichever node answers, follow
``MOVED`` and ``ASK``, and find the new primary of a slot after a failover.

No Django here: settings.py reads :func:`cluster_nodes` to give the channel
layer every node.
"""

import contextlib
import urllib.parse

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


class BadRedisURL(ValueError):
    pass


def is_cluster(url):
    return urllib.parse.urlsplit(url).scheme in CLUSTER_SCHEMES


def cluster_nodes(url):
    """The plain URL of each node a cluster URL lists (credentials and options kept), or [] for one server."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in CLUSTER_SCHEMES:
        return []
    credentials, _, hosts = parts.netloc.rpartition("@")
    nodes = []
    for address in hosts.split(","):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise BadRedisURL(f"{address!r} in {parts.scheme}:// is not host:port")
        netloc = f"{credentials}@{address}" if credentials else address
        scheme = CLUSTER_SCHEMES[parts.scheme]
        nodes.append(urllib.parse.urlunsplit((scheme, netloc, "", parts.query, "")))
    return nodes


def sync_client(url, **options):
    """A thread-safe client: ``redis.Redis``, or ``redis.cluster.RedisCluster`` for a cluster URL."""
    if not is_cluster(url):
        return redis.Redis.from_url(url, **options)
    first, *others = cluster_nodes(url)
    seeds = [redis.cluster.ClusterNode(*_address(node)) for node in others]
    return SyncCluster.from_url(first, startup_nodes=seeds, **options)


def async_client(url, pool_timeout, **options):
    """An asyncio client for the running loop.

    One server gets a blocking pool, so a burst waits up to ``pool_timeout`` for
    a free connection. The cluster client has no such pool: past
    ``max_connections`` to one node it raises ``MaxConnectionsError`` (a
    ``ConnectionError``) at once, so it is given more connections per node.
    """
    if not is_cluster(url):
        pool = redis.asyncio.BlockingConnectionPool.from_url(url, timeout=pool_timeout, **options)
        return redis.asyncio.Redis.from_pool(pool)
    first, *others = cluster_nodes(url)
    seeds = [redis.asyncio.cluster.ClusterNode(*_address(node)) for node in others]
    options = {**options, "max_connections": 4 * options.get("max_connections", 64)}
    return AsyncCluster.from_url(first, startup_nodes=seeds, **options)


@contextlib.contextmanager
def unreachable_as_connection_error():
    """A cluster none of whose nodes answers, raised as the ``ConnectionError`` it is.

    redis-py raises ``RedisClusterException`` then ("Redis Cluster cannot be
    connected"), the class it also raises for a command whose keys span slots,
    so the callers that take a ``ConnectionError`` to mean "Redis is away"
    (players closed with 4503, 503 states, the admin's "Redis is unavailable")
    took a cluster that was all down for a bug: the hub's loops failed with
    tracebacks and no player was told; the admin answered 500.
    """
    try:
        yield
    except redis.exceptions.RedisClusterException as error:
        if isinstance(error.__cause__, (redis.ConnectionError, redis.TimeoutError, OSError)):
            raise redis.ConnectionError(str(error)) from error
        raise


class AsyncCluster(redis.asyncio.cluster.RedisCluster):
    """The asyncio cluster client; a cluster that cannot be reached raises ``ConnectionError``."""

    async def initialize(self, *args, **kwargs):
        with unreachable_as_connection_error():
            return await super().initialize(*args, **kwargs)


class SyncCluster(redis.cluster.RedisCluster):
    """The thread-safe cluster client; a cluster that cannot be reached raises ``ConnectionError``.

    It learns the cluster as it is made, and again after a node fails, in its
    nodes manager (which its pipelines share), so both are covered.
    """

    def __init__(self, *args, **kwargs):
        with unreachable_as_connection_error():
            super().__init__(*args, **kwargs)
        learn = self.nodes_manager.initialize

        def initialize(*args, **kwargs):
            with unreachable_as_connection_error():
                return learn(*args, **kwargs)

        self.nodes_manager.initialize = initialize


def _address(node_url):
    parts = urllib.parse.urlsplit(node_url)
    return parts.hostname, parts.port


def node_of(client, key):
    """The node serving ``key`` (the primary of its slot), or None on one server."""
    if isinstance(client, (redis.cluster.RedisCluster, redis.asyncio.cluster.RedisCluster)):
        return client.get_node_from_key(key)
    return None


def primaries(client):
    """The cluster's primaries as a ``target_nodes`` argument, or None on one server."""
    if isinstance(client, (redis.cluster.RedisCluster, redis.asyncio.cluster.RedisCluster)):
        return client.get_primaries()
    return None


def on_each_primary(client, method, *args):
    """``client.<method>(*args)`` on every primary of a cluster, one call each, or once on one server: the replies."""
    nodes = primaries(client)
    if nodes is None:
        return [getattr(client, method)(*args)]
    return [getattr(client, method)(*args, target_nodes=node) for node in nodes]
