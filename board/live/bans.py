"""
Bans as each serving process sees them.

Every change a player sends is checked against the process's copy of the
active bans, so the check costs no database or Redis round trip. The copy is
reloaded when a moderator changes a ban (the hubs receive a ``board.bans``
event) and at least every ``BOARD_BAN_REFRESH_SECONDS`` in case that event was
lost; a ban's expiry is checked on every change.
"""

import asyncio
import logging
import math
import time
import weakref
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError

from ..models import Ban

logger = logging.getLogger(__name__)


class BanList:
    """The active bans at one moment; immutable, so a socket can remember what it concluded from it."""

    def __init__(self, bans=()):
        self._bans = [(ban.ip_network(), ban.expires.timestamp() if ban.expires else math.inf) for ban in bans]

    def __len__(self):
        return len(self._bans)

    def banned_until(self, network):
        """Unix time the longest ban covering ``network`` ends (``inf`` for never), or None."""
        if network is None:
            return None
        until = None
        for banned, ends in self._bans:
            if banned.version == network.version and network.subnet_of(banned):
                until = ends if until is None else max(until, ends)
        return until


@dataclass
class _Copy:
    bans: BanList | None = None
    loaded_at: float = -math.inf
    loading: asyncio.Task | None = None


# One copy per event loop, like the hubs: tests run one loop per test.
_copies = weakref.WeakKeyDictionary()


def _copy():
    return _copies.setdefault(asyncio.get_running_loop(), _Copy())


async def current():
    """This process's ban list, loading it on first use and refreshing it when it is old.

    A list a little past its refresh time is used while a fresh one loads, so a
    busy board never waits for the database; one much older (a process that had
    no players for a while) is not trusted, and the caller waits for the new one.
    """
    copy = _copy()
    age = time.monotonic() - copy.loaded_at
    if copy.bans is None or age > 2 * settings.BOARD_BAN_REFRESH_SECONDS:
        reload()
        await asyncio.shield(copy.loading)
    elif age > settings.BOARD_BAN_REFRESH_SECONDS:
        reload()
    return copy.bans


def reload():
    """Fetch the ban list again in the background, unless a fetch is already under way."""
    copy = _copy()
    if copy.loading is None or copy.loading.done():
        copy.loading = asyncio.ensure_future(_load(copy))


async def _load(copy):
    copy.loaded_at = time.monotonic()
    try:
        copy.bans = BanList(await _active_bans())
    except Exception as error:
        # Players keep playing under the last list known (none at first); retry
        # soon. Anything else than a database error is a bug: its traceback too.
        logger.warning("Could not load the ban list: %s", error, exc_info=not isinstance(error, DatabaseError))
        copy.bans = copy.bans or BanList()
        copy.loaded_at = time.monotonic() - settings.BOARD_BAN_REFRESH_SECONDS + 2


@database_sync_to_async
def _active_bans():
    return list(Ban.objects.active().only("network", "expires"))


class Verdict:
    """One socket's standing: recomputed only when the ban list it came from is replaced."""

    def __init__(self):
        self._seen = None
        self._until = None

    async def banned(self, network):
        bans = await current()
        if bans is not self._seen:
            self._seen = bans
            self._until = bans.banned_until(network)
        return self._until is not None and time.time() < self._until
