"""
The events every process's hub hears, on one channel-layer group per board.

This is the one list of them. A hub (board/live/hub.py) publishes the changes
its players made; moderation (board/moderation.py) publishes what moderators
and operators did. Each process's hub handles an event by its type, ``board.x``
by ``board_x``, and passes it on to its sockets.

| event | fields | sent when |
|---|---|---|
| ``board.batch`` | ``origin`` (a process id, or "moderation"), ``runs`` (UPDATE runs) | changes applied |
| ``board.reset`` | ``reason`` ("restored", "cleared", "imported") | the whole bitset replaced |
| ``board.frozen`` | ``frozen`` (bool) | a moderator froze or unfroze the board |
| ``board.bans`` | | the bans changed: reload them now |
| ``board.deleted`` | | the board was deleted: close its sockets (4410) and forget it |

An event may be lost (the channel layer drops messages while it reconnects to
Redis); every one of them is also visible in the live state, so players catch
up from the next beacon (a deleted board's hub then fails its beats and closes
its sockets with 4503, as if Redis were away, until the process restarts).
"""

from channels.layers import get_channel_layer

from ..store.state import Status
from . import protocol

BATCH = "board.batch"
RESET = "board.reset"
FROZEN = "board.frozen"
BANS = "board.bans"
DELETED = "board.deleted"


def group_name(slug):
    """The channel-layer group that carries one board's events between processes."""
    return f"board.{slug}"


def batch(origin, runs):
    return {"type": BATCH, "origin": origin, "runs": runs}


def reset(reason):
    return {"type": RESET, "reason": reason}


def frozen(flag):
    return {"type": FROZEN, "frozen": bool(flag)}


def bans():
    return {"type": BANS}


def deleted():
    return {"type": DELETED}


def applied_run(applied, changes):
    """The UPDATE run of one applied batch (``state.Applied``): the changes that applied, or None."""
    done = [change for change, status in zip(changes, applied.statuses, strict=True) if status == Status.APPLIED]
    if not done:
        return None
    return protocol.encode_run(applied.epoch, applied.from_version, done)


async def publish(slug, event):
    """Send ``event`` to every process's hub of ``slug``."""
    await get_channel_layer().group_send(group_name(slug), event)
