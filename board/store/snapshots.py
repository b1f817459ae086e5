"""
Snapshots: a board's live bitset saved in the database.

- :func:`take` saves the live state now; :func:`take_if_changed` does so only
  when the board differs from its newest snapshot.
- :func:`periodic` is a task each process's hub runs for its board. Every
  ``BOARD_SNAPSHOT_SECONDS`` the processes race to claim the interval in Redis;
  the one that wins snapshots the board if it changed, then prunes old ones.
  So there is one snapshot per interval per board, however many processes run.
- :func:`prune` applies the retention policy (docs/operations.md).

Recovery, the other half, is ``Board.initial_state()``: a board whose live state
is missing from Redis starts again from its newest snapshot.
"""

import asyncio
import logging
from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from redis.exceptions import LockError

from .. import bitset, metrics
from ..models import Snapshot
from . import state

logger = logging.getLogger(__name__)

# Claims the current interval for one process, by Redis's clock so that every
# process (on every machine) agrees where intervals start. Returns whether this
# caller won and the seconds left until the next interval.
CLAIM_LUA = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local interval = tonumber(ARGV[1])
local slot = math.floor(t / interval)
local wait = tostring((slot + 1) * interval - t)
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
if last >= slot then return {0, wait} end
redis.call('SET', KEYS[1], slot, 'EX', math.ceil(interval * 3))
return {1, wait}
"""


class SnapshotSkipped(Exception):
    """Another process is taking a snapshot of this board and did not finish in time."""


def _key(slug, name):
    return f"{settings.REDIS_PREFIX}:{{{slug}}}:snapshot-{name}"


# -- taking -----------------------------------------------------------------


def take(board, reason, user=None, note=""):
    """Save the board's live state as a new snapshot and return it."""
    bits, meta = state.read(board)
    snapshot = Snapshot.of(board, bits, meta.version, meta.count, reason=reason, taken_by=user, note=note)
    snapshot.save()
    return snapshot


def take_if_changed(board, reason):
    """Save the live state unless it is what the newest snapshot holds; the snapshot or None.

    A board that never had a snapshot counts as changed once anything on it is
    checked. A Redis lock keeps two processes from both saving the same change.
    """
    lock = state.sync_client().lock(_key(board.slug, "lock"), timeout=60, blocking_timeout=15)
    try:
        with lock:
            bits, meta = state.read(board)
            if bitset.digest(bits) == _newest_digest(board):
                return None
            snapshot = Snapshot.of(board, bits, meta.version, meta.count, reason=reason)
            snapshot.save()
            return snapshot
    except LockError as error:
        raise SnapshotSkipped(f"Another process held the snapshot lock of board {board.slug} too long.") from error


def _newest_digest(board):
    newest = board.snapshots.values_list("digest", flat=True).first()
    return newest or bitset.digest(bytes(bitset.byte_length(board.size)))


# -- periodic ---------------------------------------------------------------


async def claim_interval(slug, seconds):
    """``(won, wait)``: whether this process snapshots the current interval, and seconds to the next."""
    won, wait = await state.async_client().eval(CLAIM_LUA, 1, _key(slug, "turn"), seconds)
    return won == 1, float(wait)


async def periodic(board):
    """Snapshot ``board`` every interval when it changed, in one process of all that serve it."""
    seconds = settings.BOARD_SNAPSHOT_SECONDS
    failing = False
    wait = seconds
    await _record_newest(board)
    while True:
        await asyncio.sleep(wait)
        wait = seconds
        try:
            # Every process, whichever took the snapshot, knows how old the newest one is.
            await _record_newest(board)
            won, wait = await claim_interval(board.slug, seconds)
            if won:
                await database_sync_to_async(_periodic_turn)(board)
                await _record_newest(board)
            if failing:
                logger.info("Periodic snapshots of board %s work again", board.slug)
            failing = False
        except (state.StateUnavailable, SnapshotSkipped, DatabaseError, *state.TRANSIENT_ERRORS) as error:
            if not failing:
                logger.warning("Periodic snapshot of board %s failed: %s", board.slug, error)
            failing = True


async def _record_newest(board):
    """Tell the metrics when the board's newest snapshot was taken (by any process)."""
    try:
        created = await board.snapshots.values_list("created", flat=True).afirst()
    except DatabaseError as error:
        logger.warning("Cannot read the newest snapshot of board %s: %s", board.slug, error)
        return
    metrics.snapshot_seen(board.slug, None if created is None else created.timestamp())


def _periodic_turn(board):
    snapshot = take_if_changed(board, Snapshot.Reason.PERIODIC)
    if snapshot is not None:
        logger.info("Snapshot #%d of board %s (version %d)", snapshot.pk, board.slug, snapshot.version)
        prune(board)


# -- retention --------------------------------------------------------------


def keep(snapshots, now, newest=None, hours=None, days=None):
    """The ids to keep of ``snapshots``, ``[(id, created, reason), …]`` newest first.

    Kept: the ``newest`` N; the newest of each hour for ``hours`` hours back and
    of each day for ``days`` days back; every snapshot a person took by hand;
    and every undo point for ``BOARD_UNDO_KEEP_HOURS`` (:func:`undo_kept_until`).
    The newest snapshot is always among them.
    """
    newest = settings.BOARD_SNAPSHOT_KEEP if newest is None else newest
    hours = settings.BOARD_SNAPSHOT_KEEP_HOURS if hours is None else hours
    days = settings.BOARD_SNAPSHOT_KEEP_DAYS if days is None else days
    undo_since = now - timedelta(hours=settings.BOARD_UNDO_KEEP_HOURS)
    kept = {pk for pk, _, _ in snapshots[: max(newest, 1)]}
    kept |= {pk for pk, _, reason in snapshots if reason == Snapshot.Reason.MANUAL}
    kept |= {pk for pk, created, reason in snapshots if reason in Snapshot.UNDO_REASONS and created >= undo_since}
    kept |= _newest_per_bucket(snapshots, now - timedelta(hours=hours), _hour)
    kept |= _newest_per_bucket(snapshots, now - timedelta(days=days), _day)
    return kept


def undo_kept_until(snapshot):
    """The moment until which retention surely keeps an undo point (it may keep it longer)."""
    return snapshot.created + timedelta(hours=settings.BOARD_UNDO_KEEP_HOURS)


def _newest_per_bucket(snapshots, since, bucket_of):
    seen, kept = set(), set()
    for pk, created, _ in snapshots:
        if created < since:
            break
        bucket = bucket_of(created)
        if bucket not in seen:
            seen.add(bucket)
            kept.add(pk)
    return kept


def _hour(moment):
    return timezone.localtime(moment).replace(minute=0, second=0, microsecond=0)


def _day(moment):
    return timezone.localtime(moment).date()


def prune(board, dry_run=False, now=None):
    """Delete the board's snapshots the retention policy does not keep; ``(kept, deleted)`` counts."""
    rows = list(board.snapshots.order_by("-created", "-id").values_list("id", "created", "reason"))
    kept = keep(rows, now or timezone.now())
    doomed = [pk for pk, _, _ in rows if pk not in kept]
    if doomed and not dry_run:
        with transaction.atomic():
            for start in range(0, len(doomed), 500):
                Snapshot.objects.filter(pk__in=doomed[start : start + 500]).delete()
    return len(kept), len(doomed)
