"""
Timelapses: how a board changed over a window, as an animation (docs/history.md).

The replay starts from the newest snapshot taken at or before the window's
start. A snapshot records the version it reflects and each logged change the
version it produced, so the replay skips the changes the snapshot already holds
and applies the rest in order. Versions go up by one per change, so a change
missing from the log (trimmed before ``archivelog`` saved it) shows as a gap and
stops the replay rather than drawing a wrong board. A reset entry (restore,
clear, import, recovery) starts again from the bitset it names.

Frames are board pictures (board/pictures.py) at evenly spaced moments: the
first shows the board at the window's start, the last at its end. The command
renders them all into one animation (:func:`render`); the admin asks for one
frame per request (:func:`frame`), each replayed from the newest snapshot
before its own moment, so no request holds more than one frame.
"""

import io
from datetime import timedelta

from .. import bitset, pictures
from ..store import changelog
from ..store.changelog import Reset
from . import queries
from .moments import format_moment

MAX_FRAMES = 1000
MAX_FPS = 50
# Every frame is kept until the animation is encoded: at most this many pixels in all.
MAX_PIXELS = 400_000_000
# The log is read from this long before the starting snapshot was taken: the
# snapshot's time comes from a server's clock, the log's from Redis's.
CLOCK_MARGIN = timedelta(minutes=5)
FORMATS = {".gif": "GIF", ".png": "PNG", ".apng": "PNG"}


class TimelapseError(Exception):
    """A timelapse that cannot be made, with a sentence saying why."""


def moments(since, until, count):
    """``count`` evenly spaced moments from ``since`` to ``until``, both included."""
    return [moment_of(since, until, count, k) for k in range(count)]


def moment_of(since, until, count, k):
    """The moment of frame ``k`` of ``count`` from ``since`` to ``until``."""
    return since + (until - since) * k / (count - 1)


def most_frames(size):
    """The most frames a timelapse of a board of ``size`` boxes may have."""
    width, height = pictures.picture_size(size)
    return max(2, min(MAX_FRAMES, MAX_PIXELS // (width * height)))


def check(board, since, until, frames, fps):
    """Raise TimelapseError if the window or the numbers cannot make a timelapse."""
    if until <= since:
        raise TimelapseError(f"The window ends ({format_moment(until)}) before it starts ({format_moment(since)}).")
    if not 2 <= frames <= most_frames(board.size):
        raise TimelapseError(f"A timelapse of {board} has 2 to {most_frames(board.size):,} frames, not {frames:,}.")
    if not 1 <= fps <= MAX_FPS:
        raise TimelapseError(f"Frames per second go from 1 to {MAX_FPS}, not {fps}.")


class Replay:
    """A board rebuilt entry by entry from a known bitset and the version it reflects."""

    def __init__(self, board, bits=None, version=0):
        self.board = board
        self.bits = bytearray(bits) if bits is not None else None
        self.version = version
        self.lost = None

    def apply(self, entry):
        if isinstance(entry, Reset):
            self._reset(entry)
            return
        if self.bits is None or entry.version <= self.version:
            return  # Unknown board, or a change the starting snapshot already holds.
        if entry.version != self.version + 1:
            raise TimelapseError(
                f"The log misses the changes between versions {self.version:,} and {entry.version:,} "
                f"(trimmed before archivelog saved them), so the board cannot be rebuilt past "
                f"{format_moment(entry.time)}."
            )
        mask = 0x80 >> (entry.box & 7)
        if entry.value:
            self.bits[entry.box >> 3] |= mask
        else:
            self.bits[entry.box >> 3] &= 0xFF ^ mask
        self.version = entry.version

    def _reset(self, entry):
        bits = queries.bits_named(self.board, entry.digest)
        if bits is not None:
            self.bits, self.version, self.lost = bytearray(bits), entry.version, None
        elif self.bits is None or entry.version > self.version:
            # Replaced by a bitset no snapshot holds any more: unknown until the next reset.
            self.bits, self.lost = None, entry

    def frame(self, moment):
        if self.bits is not None:
            return bytes(self.bits)
        if self.lost is not None:
            raise TimelapseError(
                f"Board {self.board} was {self.lost.reason} at {format_moment(self.lost.time)} with a board no "
                "snapshot holds any more; start the timelapse after that."
            )
        raise TimelapseError(
            f"No snapshot of {self.board} was taken before {format_moment(moment)}, and its log does not go "
            "back to the board's start; choose a later start."
        )


def boards(board, times):
    """The board's bitset at each of ``times`` (ascending), replayed from a snapshot and the log."""
    replay, entries = _start(board, times[0], times[-1])
    marks = [changelog.milliseconds(moment) for moment in times]
    k, changed = 0, False
    for entry in entries:
        written = changelog.id_key(entry.id)[0]
        while k < len(marks) and written > marks[k]:
            yield replay.frame(times[k])
            k += 1
        replay.apply(entry)
        changed = changed or written > marks[0]
    for moment in times[k:]:
        yield replay.frame(moment)
    if not changed:
        raise _nothing_changed(board, times[0], times[-1])


def bits_at(board, moment):
    """The board's bitset at ``moment``, replayed from the newest snapshot before it and the log."""
    replay, entries = _start(board, moment, moment)
    # The log is read up to ``moment``'s millisecond, inclusive: what boards() applies before that frame.
    for entry in entries:
        replay.apply(entry)
    return replay.frame(moment)


def check_window(board, since, until):
    """Raise TimelapseError unless the board at ``since`` can be rebuilt and something changed by ``until``.

    The work is bounded: the replay up to ``since``, and the log up to the window's first change.
    """
    bits_at(board, since)
    mark = changelog.milliseconds(since)
    if not any(changelog.id_key(entry.id)[0] > mark for entry in queries.entries(board, since, until)):
        raise _nothing_changed(board, since, until)


def frame(board, since, until, count, k):
    """Frame ``k`` (from 0) of a timelapse of ``count`` frames, as ``(picture, moment)``.

    The picture is the admin's overview (``pictures.overview``): it fits the page, and a sparse board still shows.
    """
    moment = moment_of(since, until, count, k)
    return pictures.overview(bits_at(board, moment), board.size), moment


def _start(board, since, until):
    """A replay from the newest snapshot at or before ``since``, and the log's entries it still needs."""
    snapshot = board.snapshots.filter(created__lte=since, size=board.size).first()
    if snapshot is None:
        return _from_the_start(board, until)
    replay = Replay(board, snapshot.bits(), snapshot.version)
    return replay, queries.entries(board, snapshot.created - CLOCK_MARGIN, until)


def _nothing_changed(board, since, until):
    return TimelapseError(f"Nothing changed on {board} between {format_moment(since)} and {format_moment(until)}.")


def _from_the_start(board, until):
    """A replay of the log up to ``until``: of an empty board if the log starts with the board's creation."""
    # The log's first entry, even when it comes after ``until``: before it was created, the board was as
    # empty as it started.
    first = next(queries.entries(board), None)
    empty = isinstance(first, Reset) and first.reason == "created"
    replay = Replay(board, bytes(bitset.byte_length(board.size))) if empty else Replay(board)
    return replay, queries.entries(board, None, until)


def render(board, since, until, frames=60, fps=10, kind="GIF", progress=None):
    """The timelapse as animated GIF (``kind`` "GIF") or APNG ("PNG") bytes.

    ``progress(done, total)`` is called after each frame.
    """
    check(board, since, until, frames, fps)
    images = []
    for bits in boards(board, moments(since, until, frames)):
        images.append(pictures.picture(bits, board.size))
        if progress is not None:
            progress(len(images), frames)
    out = io.BytesIO()
    first, *rest = images
    first.save(out, kind, save_all=True, append_images=rest, duration=round(1000 / fps), loop=0)
    return out.getvalue()
