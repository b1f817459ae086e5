"""
Which networks are changing a board, so a moderator can find a vandal to ban.

Each process tallies the changes its sockets send per network (IPv4 address,
IPv6 /64) in memory and adds the tallies to a per-minute hash in Redis every
few seconds; the admin sums the last ``BOARD_ACTIVITY_MINUTES`` minutes. The
hashes expire soon after, so addresses are not kept longer than that.
"""

import asyncio
import logging
import time
import weakref
from collections import Counter

from django.conf import settings

from . import state

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 5

# Tallies waiting to be flushed, by event loop (like the hubs: tests run one
# loop per test) and board slug; a change costs one increment.
_tallies = weakref.WeakKeyDictionary()


def _pending():
    return _tallies.setdefault(asyncio.get_running_loop(), {})


def count(slug, network):
    if network is not None:
        _pending().setdefault(slug, Counter())[str(network)] += 1


def _key(slug, minute):
    return f"{settings.REDIS_PREFIX}:{{{slug}}}:activity:{minute}"


async def flush(slug):
    tally = _pending().pop(slug, None)
    if not tally:
        return
    key = _key(slug, int(time.time() // 60))
    async with state.async_client().pipeline(transaction=False) as pipe:
        for network, changes in tally.items():
            pipe.hincrby(key, network, changes)
        pipe.expire(key, (settings.BOARD_ACTIVITY_MINUTES + 1) * 60)
        await pipe.execute()


async def flush_periodically(slug):
    """The hub's task: move this process's tally into Redis every few seconds."""
    while True:
        await asyncio.sleep(FLUSH_SECONDS)
        try:
            await flush(slug)
        except state.REDIS_ERRORS as error:
            # The tally is lost; it only ever guides a moderator's eye.
            logger.debug("Could not record activity on %s: %s", slug, error)


def recent(slug, minutes=None):
    """``[(network, changes), …]`` over the last minutes, busiest first, across all processes."""
    minutes = minutes or settings.BOARD_ACTIVITY_MINUTES
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
