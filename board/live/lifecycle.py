"""
The serving process's last act: a final snapshot of every board it served.

daphne runs on Twisted's asyncio reactor. On SIGTERM or SIGINT the reactor
stops, and before it shuts down it fires its "before shutdown" triggers and
waits for the Deferreds they return, while the asyncio loop still runs (daphne
cancels its connections' application instances in a trigger of its own). So a
trigger is the place for work that must finish before the process exits. ASGI
lifespan events would be the portable hook, but daphne does not send them.
"""

import asyncio
import logging
import sys

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError

from ..models import Snapshot
from ..store import snapshots, state
from .hub import local_hubs

logger = logging.getLogger(__name__)

_installed = False


def install():
    """Register the final snapshot with the reactor daphne runs (a no-op elsewhere)."""
    global _installed
    # daphne installs the asyncio reactor as soon as it is imported; importing
    # twisted.internet.reactor here first would install a different one.
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or _installed:
        return
    reactor.addSystemEventTrigger("before", "shutdown", _before_shutdown)
    _installed = True


def _before_shutdown():
    from twisted.internet.defer import Deferred

    return Deferred.fromFuture(asyncio.ensure_future(final_snapshots()))


async def final_snapshots():
    """Snapshot each board this process serves, if it changed; never longer than the configured time."""
    hubs = local_hubs()
    if not hubs:
        return
    try:
        async with asyncio.timeout(settings.BOARD_SHUTDOWN_SNAPSHOT_SECONDS):
            for hub in hubs:
                await _final_snapshot(hub.board)
    except TimeoutError:
        logger.error("Final snapshots took longer than %d s; gave up", settings.BOARD_SHUTDOWN_SNAPSHOT_SECONDS)


async def _final_snapshot(board):
    try:
        snapshot = await database_sync_to_async(snapshots.take_if_changed)(board, Snapshot.Reason.SHUTDOWN)
    except (state.StateUnavailable, snapshots.SnapshotSkipped, DatabaseError, *state.REDIS_ERRORS) as error:
        logger.error("No final snapshot of board %s: %s", board.slug, error)
        return
    if snapshot is None:
        logger.info("Board %s unchanged since its last snapshot", board.slug)
    else:
        logger.info("Final snapshot #%d of board %s (version %d)", snapshot.pk, board.slug, snapshot.version)
