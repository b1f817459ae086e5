"""
Which networks are changing a board, so a moderator can find a vandal to ban.

Each process's hub tallies the changes its sockets send per network (IPv4
address, IPv6 /64) in memory and adds the tally to a per-minute hash in Redis
every few seconds; the admin sums the last ``BOARD_TALLY_MINUTES`` minutes. The
hashes expire soon after, so addresses are not kept longer than that.
"""

import asyncio
import logging
import time
from collections import Counter

from django.conf import settings

from ..store import state

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 5


def _key(slug, minute):
    return f"{settings.REDIS_PREFIX}:{{{slug}}}:tally:{minute}"


class Tally:
    """One hub's count of the changes sent per network since its last flush; a change costs one increment."""

    def __init__(self, slug):
        self.slug = slug
        self._counts = Counter()

    def count(self, network_label):
        if network_label is not None:
            self._counts[network_label] += 1

    async def flush(self):
        counts, self._counts = self._counts, Counter()
        if not counts:
            return
        key = _key(self.slug, int(time.time() // 60))
        async with state.async_client().pipeline(transaction=False) as pipe:
            for network, changes in counts.items():
                pipe.hincrby(key, network, changes)
            pipe.expire(key, (settings.BOARD_TALLY_MINUTES + 1) * 60)
            await pipe.execute()

    async def flush_periodically(self):
        """The hub's task: move the tally into Redis every few seconds."""
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except state.TRANSIENT_ERRORS as error:
                # The tally is lost; it only ever guides a moderator's eye.
                logger.debug("Could not record the tally of %s: %s", self.slug, error)


def recent(slug, minutes=None):
    """``[(network, changes), …]`` over the last minutes, busiest first, across all processes."""
    minutes = minutes or settings.BOARD_TALLY_MINUTES
    now = int(time.time() // 60)
    try:
        with state.sync_client().pipeline(transaction=False) as pipe:
            for minute in range(now - minutes + 1, now + 1):
                pipe.hgetall(_key(slug, minute))
            hashes = pipe.execute()
    except state.REDIS_ERRORS as error:
        raise state.StateUnavailable(str(error)) from error
    total = Counter()
    for entries in hashes:
        for network, changes in entries.items():
            total[network.decode()] += int(changes)
    return total.most_common()
