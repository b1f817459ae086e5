"""
The channel layer on a Redis Cluster: channels_redis's pub/sub layer over every node, surviving a dead node.

channels_redis's ``RedisPubSubChannelLayer`` spreads channels and groups over
its ``hosts`` by a consistent hash of their names, and holds each shard to its
one host: when that host dies, the shard's subscriptions and publishes fail
until it comes back, which after a failover is never (its replica took over,
under another address). On a cluster any node will do for any group, since a
plain PUBLISH on one node reaches the subscribers on every node (over the
cluster bus), so here a shard whose node stops answering moves to the next
listed node and subscribes there again. Messages published while it moves are
lost, as they are while the plain layer reconnects; players catch up from
the next beacon (docs/protocol.md).
"""

import asyncio
import logging
from collections import deque

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _close_redis, decode_hosts

from ..store.state import REDIS_ERRORS

logger = logging.getLogger(__name__)


class ClusterPubSubChannelLayer(RedisPubSubChannelLayer):
    """``RedisPubSubChannelLayer`` whose shards move to another node of the cluster when theirs fails."""

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        if loop not in self._layers:
            self._layers[loop] = ClusterLoopLayer(*self._args, **self._kwargs, channel_layer=self)
        return self._layers[loop]


class ClusterLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, hosts=None, **kwargs):
        super().__init__(hosts=hosts, **kwargs)
        nodes = decode_hosts(hosts)
        # Shard k starts on node k and falls back on the others in turn, so
        # the groups of a dead node spread over the rest.
        self._shards = [MovingShard(nodes[k:] + nodes[:k], self) for k in range(len(nodes))]


class MovingShard(RedisSingleShardConnection):
    """One shard: its own node first, then each of the others when the one it is on fails."""

    def __init__(self, hosts, channel_layer):
        super().__init__(hosts[0], channel_layer)
        self._hosts = deque(hosts)
        # True while no node took this shard's subscriptions: the receive loop tries again every second.
        self._lost = False

    async def publish(self, channel, message):
        try:
            await super().publish(channel, message)
        except REDIS_ERRORS:
            await self._move_on()
            raise

    async def subscribe(self, channel):
        try:
            await super().subscribe(channel)
        except REDIS_ERRORS:
            await self._move_on()
            raise

    async def _do_receiving(self):
        while True:
            try:
                if self._lost:
                    await asyncio.sleep(1)
                    await self._move_on()
                elif self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
                    self._receive_message(message)
                else:
                    await asyncio.sleep(0.1)
            except REDIS_ERRORS as error:
                logger.warning("The channel layer lost %s (%s); moving on", self.host.get("address"), error)
                await self._move_on()

    async def _move_on(self):
        """Leave the current node for the next that takes this shard's subscriptions; each in turn, once."""
        async with self._lock:
            self._lost = True
            for _ in range(len(self._hosts)):
                await self._drop()
                self._hosts.rotate(-1)
                self.host = self._hosts[0]
                if not self._subscribed_to:
                    self._lost = False
                    return
                self._ensure_redis()
                try:
                    await self._pubsub.subscribe(*self._subscribed_to)
                except REDIS_ERRORS:
                    continue
                self._lost = False
                logger.info("The channel layer moved a shard to %s", self.host.get("address"))
                return

    async def _drop(self):
        failed, self._redis, self._pubsub = self._redis, None, None
        if failed is not None:
            try:
                await _close_redis(failed)
            except REDIS_ERRORS:
                pass
