"""
What moderators and operators do to a live board, for the admin and the
management commands alike. Each operation changes the live state in Redis,
records it in the database and tells every serving process, whose hubs pass it
on to the players (a ``frozen`` or ``resync`` control frame).

Replacing the whole board (restore, clear, import) saves the board as it was
("before …") and as it became ("restored", …), both taken from the one atomic
swap, so the change can be undone, a Redis loss right after it cannot bring
the old board back, and both agree exactly with the board's log. A
revert saves the board first too, then changes the boxes it restores as players
do, so they see it as ordinary changes; the board's log names who did each.
"""

import logging
import shutil
from dataclasses import dataclass
from datetime import UTC

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.db import DatabaseError, transaction

from . import bitset
from .history import archive, queries
from .history.moments import format_moment
from .live import events
from .models import Ban, Board, Snapshot
from .store import snapshots, state

logger = logging.getLogger(__name__)


class ModerationError(Exception):
    """An operation that cannot be done, with a sentence saying why."""


@dataclass(frozen=True)
class Replaced:
    """The outcome of replacing a board: the snapshots either side and the new live metadata."""

    before: Snapshot
    after: Snapshot
    meta: state.Meta


def freeze(board, frozen=True, user=None):
    """Freeze (or unfreeze) a board for every player; False if it already was."""
    changed = board.frozen != frozen
    state.set_frozen(board, frozen)
    Board.objects.filter(pk=board.pk).update(frozen=frozen)
    board.frozen = frozen
    announce(board.slug, events.frozen(frozen))
    logger.info("Board %s %s", board.slug, "frozen" if frozen else "unfrozen")
    if changed:
        record(user, board, "Froze the board." if frozen else "Unfroze the board.")
    return changed


def restore(snapshot, user=None):
    """Put a snapshot back on its board; every player switches to it."""
    board = snapshot.board
    if snapshot.size != board.size:
        raise ModerationError(
            f"Snapshot #{snapshot.pk} holds {snapshot.size:,} boxes but board {board.slug} has {board.size:,}, "
            "so it cannot be restored onto it."
        )
    done = _replace(
        board,
        snapshot.bits(),
        "restored",
        user,
        (Snapshot.Reason.BEFORE_RESTORE, Snapshot.Reason.RESTORED),
        f"restore of snapshot #{snapshot.pk}",
    )
    record(user, board, f"Restored snapshot #{snapshot.pk}; the board before it was saved as {undo_note(done.before)}.")
    record(user, snapshot, f"Restored onto board {board}.")
    return done


def clear(board, user=None):
    """Uncheck every box of a board."""
    bits = bytes(bitset.byte_length(board.size))
    done = _replace(board, bits, "cleared", user, (Snapshot.Reason.BEFORE_CLEAR, Snapshot.Reason.CLEARED), "clear")
    record(user, board, f"Cleared the board. It was saved first as {undo_note(done.before)}.")
    return done


def import_bits(board, bits, user=None, source=""):
    """Replace a board with ``bits``, a raw bitset of exactly the board's length."""
    expected = bitset.byte_length(board.size)
    if len(bits) != expected:
        raise ModerationError(
            f"A board of {board.size:,} boxes needs a bitset of {expected:,} bytes; this one has {len(bits):,}."
        )
    note = f"import of {source}" if source else "import"
    done = _replace(board, bits, "imported", user, (Snapshot.Reason.BEFORE_IMPORT, Snapshot.Reason.IMPORTED), note)
    record(user, board, f"Imported {source or 'a bitset'}. It was saved first as {undo_note(done.before)}.")
    return done


def _replace(board, bits, event_reason, user, reasons, note):
    """Swap the bits and save both snapshots from the swap's one atomic reply.

    If the snapshots cannot be saved, the swap is rolled back (when no player
    changed the board since), so a replace never stands without its undo point.
    """
    before_reason, after_reason = reasons
    swap = state.replace(board, bits, reason=event_reason, by=done_by(user))
    try:
        with transaction.atomic():
            before = _saved(board, swap.old_bits, swap.old, before_reason, user, f"Before {note}")
            after = _saved(board, swap.new_bits, swap.new, after_reason, user, f"After {note}")
    except DatabaseError as error:
        message = _roll_back(board, swap, user, note, error)
        announce(board.slug, events.reset(event_reason))  # the epoch changed either way
        raise ModerationError(message) from error
    announce(board.slug, events.reset(event_reason))
    logger.info(
        "Board %s %s; snapshots #%d before (version %d) and #%d after (version %d)",
        board.slug,
        event_reason,
        before.pk,
        before.version,
        after.pk,
        after.version,
    )
    return Replaced(before, after, swap.new)


def _saved(board, bits, meta, reason, user, note):
    snapshot = Snapshot.of(board, bits, meta.version, meta.count, reason=reason, taken_by=user, note=note)
    snapshot.save()
    return snapshot


def _roll_back(board, swap, user, note, error):
    """Put the old bits back after the snapshots failed to save; the sentence saying what happened."""
    try:
        state.replace(board, swap.old_bits, reason="restored", by=done_by(user), expect=swap.new)
    except state.StateMoved:
        logger.error("Board %s: %s done, its snapshots not saved (%s); players changed it since", board, note, error)
        return (
            f"The {note} was done but its snapshots could not be saved ({error}), and players have changed "
            f"{board} since, so it was left as it is. Take a snapshot now."
        )
    logger.error("Board %s: %s rolled back, its snapshots could not be saved: %s", board, note, error)
    return f"Nothing changed: the snapshots of the {note} could not be saved ({error}), so {board} was put back."


@dataclass(frozen=True)
class Reverted:
    """The outcome of a revert: what it worked out, the snapshot saved first, and the boxes it changed."""

    plan: queries.RevertPlan
    before: Snapshot
    changed: int


def revert(board, network, since, user=None):
    """Undo what ``network`` did to ``board`` since ``since``, except where someone changed a box after it.

    The plan is worked out from the log at this moment (a preview may be older),
    the board is saved as a "before a revert" snapshot, and the boxes change in
    batches, frozen board or not, each batch reaching every player as an
    ordinary update. Race: a player changing one of these boxes between the
    log being read and the batch applying is overwritten (and logged).
    """
    plan = queries.revert_plan(board, network, since)
    if not plan.restore:
        raise ModerationError(
            f"Nothing to revert: no box on {board} still holds a change {network} made since {format_moment(since)}."
        )
    note = f"Before reverting {network} since {format_moment(since)}"
    before = snapshots.take(board, Snapshot.Reason.BEFORE_REVERT, user=user, note=note[:200])
    author = state.Author(connection=f"revert by {done_by(user)}")
    changes = sorted(plan.restore.items())
    changed = 0
    for start in range(0, len(changes), settings.BOARD_MAX_BATCH):
        batch = changes[start : start + settings.BOARD_MAX_BATCH]
        applied = state.apply(board, batch, [author] * len(batch), force=True)
        changed += _announce_changes(board.slug, applied, batch)
    logger.info("Reverted %d boxes of board %s changed by %s since %s", changed, board.slug, network, since)
    record(
        user,
        board,
        f"Reverted {changed:,} boxes changed by {network} since {format_moment(since)}; "
        f"the board before it was saved as {undo_note(before)}.",
    )
    return Reverted(plan, before, changed)


def _announce_changes(slug, applied, changes):
    """Send the changes that applied to every process's players, as a hub's batch; how many there were."""
    run = events.applied_run(applied, changes)
    if run is not None:
        announce(slug, events.batch("moderation", run))
    return applied.to_version - applied.from_version


def done_by(user):
    """How the board's log names a moderator's or an operator's work: ``admin:erin``, or ``command``."""
    return f"admin:{user.get_username()}" if user is not None else "command"


def record(user, obj, message, flag=CHANGE):
    """Write the admin log entry (an object's History) of what ``user`` did, in the admin or with a command."""
    if user is None:
        return
    LogEntry.objects.log_actions(user.pk, [obj], flag, message, single_object=True)


def undo_note(snapshot):
    """An undo point as the admin and the commands name it: its number, and until when retention keeps it."""
    until = snapshots.undo_kept_until(snapshot).astimezone(UTC)
    return f"snapshot #{snapshot.pk} (kept until at least {until:%Y-%m-%d %H:%M} UTC)"


def ban(network, reason, expires=None, user=None):
    """Ban a network from changing boxes; connected players feel it within seconds."""
    new = Ban(network=network, reason=reason, expires=expires, banned_by=user)
    new.full_clean()
    new.save()
    transaction.on_commit(announce_bans)
    logger.info("Banned %s until %s: %s", new.network, new.expires or "lifted", reason)
    until = f"{new.expires.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if new.expires else "lifted"
    record(user, new, f"Banned until {until}: {reason}", ADDITION)
    return new


def lift(bans, now, user=None):
    """End bans now, keeping them as history; the number of bans that were still active."""
    lifted = Ban.objects.filter(pk__in=[b.pk for b in bans]).active(now).update(expires=now)
    transaction.on_commit(announce_bans)
    logger.info("Lifted %d bans: %s", lifted, ", ".join(b.network for b in bans))
    for ban in bans:
        record(user, ban, "Lifted the ban.")
    return lifted


def board_deleted(sender, instance, **kwargs):
    """A board's ``post_delete``: once the deletion is committed, forget it everywhere.

    Every Redis key of its slug and its history archives go, and every
    process's hub closes its sockets (4410) and stops, so a new board with the
    slug starts empty, at its own size.
    """
    transaction.on_commit(lambda: _forget(instance))


def _forget(board):
    try:
        state.forget(board)
    except state.StateUnavailable as error:
        # What stays in Redis cannot come back: live state is never recreated for a deleted board.
        logger.warning("Could not delete the live state of deleted board %s: %s", board.slug, error)
    shutil.rmtree(archive.directory(board.slug), ignore_errors=True)
    announce(board.slug, events.deleted())
    logger.info("Board %s deleted, with its live state and history", board.slug)


def announce_bans():
    """Tell every process to reload its ban list now rather than at its next refresh."""
    for slug in Board.objects.values_list("slug", flat=True):
        announce(slug, events.bans())


def announce(slug, event):
    """Send a hub event to every process serving ``slug``.

    The live state already changed when this runs; if the message is lost, the
    players notice from the next beacon (new epoch, frozen flag) instead.
    """
    try:
        async_to_sync(events.publish)(slug, event)
    except state.REDIS_ERRORS as error:
        logger.warning("Could not announce %s on board %s: %s", event["type"], slug, error)
