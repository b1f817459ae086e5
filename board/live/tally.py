"""
Which networks are changing a board, so a moderator can find a vandal to ban.

Each process's hub tallies the changes its sockets send per network (IPv4
address, IPv6 /64) in memory and adds the tally to a per-minute hash in Redis
every few seconds; the admin sums the last ``BOARD_TALLY_MINUTES`` minutes. The
hashes expire soon after, so addresses are not kept longer than that.

The same flush adds the outcomes of its changes (applied, unchanged, and each
reason for a refusal) to one per-minute hash for every board, kept for an hour:
the staff's live page (admin "Live") draws the last hour from it.
"""

import asyncio
import logging
import time
from collections import Counter

from django.conf import settings

from ..store import state
from ..store.state import Status

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 5
# Minutes of outcomes kept for the live page, one more than it draws.
OUTCOME_MINUTES = 61
REFUSALS = (Status.FROZEN, Status.UNAVAILABLE, Status.RATE_LIMITED, Status.BANNED)


def _key(slug, minute):
    return f"{settings.REDIS_PREFIX}:{{{slug}}}:tally:{minute}"


def _outcomes_key(minute):
    # Every board's outcomes in one key per minute: the live page reads an
    # hour in 60 calls however many boards there are.
    return f"{settings.REDIS_PREFIX}:{{live}}:outcomes:{minute}"


class Tally:
    """One hub's count of the changes sent per network since its last flush; a change costs one increment."""

    def __init__(self, slug):
        self.slug = slug
        self._counts = Counter()
        # Indexed by status (0 to 7, in order): an IntEnum key of a dict costs a Python-level hash per change.
        self._outcomes = [0] * len(Status)

    def count(self, network_label):
        if network_label is not None:
            self._counts[network_label] += 1

    def answered(self, entries):
        """Count the outcomes of one RESULT's ``(index, value, status, version)`` entries."""
        for entry in entries:
            self._outcomes[entry[2]] += 1

    async def flush(self):
        counts, self._counts = self._counts, Counter()
        outcomes, self._outcomes = self._outcomes, [0] * len(Status)
        if not counts and not any(outcomes):
            return
        minute = int(time.time() // 60)
        key, outcomes_key = _key(self.slug, minute), _outcomes_key(minute)
        async with state.async_client().pipeline(transaction=False) as pipe:
            for network, changes in counts.items():
                pipe.hincrby(key, network, changes)
            if counts:
                pipe.expire(key, (settings.BOARD_TALLY_MINUTES + 1) * 60)
            for status, changes in zip(Status, outcomes, strict=True):
                if changes:
                    pipe.hincrby(outcomes_key, f"{self.slug} {status.name.lower()}", changes)
            if any(outcomes):
                pipe.expire(outcomes_key, OUTCOME_MINUTES * 60)
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


def outcomes(minutes=60, now=None):
    """``[(minute, {slug: {outcome: changes}}), …]``, oldest first, over the last minutes.

    ``minute`` is a Unix time in minutes; outcomes are ``applied``,
    ``unchanged``, ``frozen``, ``unavailable``, ``rate_limited`` and ``banned``.
    """
    last = int((now or time.time()) // 60)
    span = range(last - minutes + 1, last + 1)
    try:
        with state.sync_client().pipeline(transaction=False) as pipe:
            for minute in span:
                pipe.hgetall(_outcomes_key(minute))
            hashes = pipe.execute()
    except state.REDIS_ERRORS as error:
        raise state.StateUnavailable(str(error)) from error
    found = []
    for minute, entries in zip(span, hashes, strict=True):
        boards = {}
        for field, changes in entries.items():
            slug, outcome = field.decode().rsplit(" ", 1)
            boards.setdefault(slug, {})[outcome] = int(changes)
        found.append((minute, boards))
    return found
