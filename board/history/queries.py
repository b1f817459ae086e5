"""
What moderators ask of a board's history (docs/history.md): the changes of one
box, what one network did in a window, and what undoing it would change.

The archives and the live log read as one sequence of entries, oldest first
(board/changelog.py, board/archive.py). Networks are matched as bans group
them (an IPv4 address, an IPv6 /64, or any wider network a moderator types).
"""

import functools
import ipaddress
from dataclasses import dataclass, field

from django.conf import settings

from .. import bitset, pictures
from ..store import changelog
from ..store.changelog import Change, Reset
from . import archive


def entries(board, since=None, until=None):
    """Every entry written from ``since`` to ``until`` (datetimes, inclusive), archived or live, oldest first."""
    last = None
    for entry in archive.read(board.slug, since, until):
        last = entry.id
        yield entry
    start = changelog.lower_bound(since) if last is None else f"({last}"
    yield from changelog.read(board.slug, start, changelog.upper_bound(until))


def newest_first(board, keep=None, keep_raw=None):
    """Every entry, live then archived, newest first.

    ``keep`` skips entries; ``keep_raw`` does the same for live entries before
    they are parsed (changelog.read), which is quicker.
    """
    oldest_live = changelog.oldest_id(board.slug)
    for entry in changelog.read(board.slug, reverse=True, keep=keep_raw):
        if keep is None or keep(entry):
            yield entry
    yield from archive.read_newest_first(board.slug, before=oldest_live, keep=keep)


# -- one box --------------------------------------------------------------------


@dataclass(frozen=True)
class BoxEvent:
    """One entry that set a box: a change of it, or a reset of the whole board (``value`` None if unknown)."""

    entry: Change | Reset
    value: int | None

    @property
    def is_reset(self):
        return isinstance(self.entry, Reset)


def box_history(board, box, limit):
    """The newest ``limit`` entries that set ``box``, newest first."""
    wanted = str(box).encode()

    def keep(entry):
        return isinstance(entry, Reset) or entry.box == box

    def keep_raw(fields):
        return fields[0] != b"box" or fields[1] == wanted

    found = []
    for entry in newest_first(board, keep, keep_raw):
        value = _bit(bits_named(board, entry.digest), box) if isinstance(entry, Reset) else entry.value
        found.append(BoxEvent(entry, value))
        if len(found) >= limit:
            break
    return found


@dataclass(frozen=True)
class BoxPage:
    """Part of a box's history: ``events`` newest first, and the entry id to go on before (None at the start)."""

    events: list
    more: str | None


def box_history_page(board, box, limit, before=None):
    """As :func:`box_history`, from before the entry id ``before``, reading a bounded number of entries.

    The admin asks this, in a request: a box few people changed could
    otherwise have it read a whole month of archives. At most
    ``HISTORY_SCAN_ENTRIES`` entries of the live log are read, and archive
    day files (each read whole) only while fewer than that have been read;
    ``more`` says where the next page starts. Each page reads something, so
    following ``more`` always reaches the start.
    """
    budget = settings.HISTORY_SCAN_ENTRIES
    scan = _Scan(box, budget)
    found = []
    end = "+" if before is None else f"({before}"
    for entry in changelog.read(board.slug, "-", end, reverse=True, keep=scan.keep_raw):
        if scan.sets(entry):
            found.append(_event(board, entry, box))
        if len(found) >= limit or scan.stopped:
            return BoxPage(found, entry.id)
    oldest_live = changelog.oldest_id(board.slug)
    if before is None or (oldest_live is not None and changelog.id_key(oldest_live) < changelog.id_key(before)):
        before = oldest_live
    for day in reversed(archive.days(board.slug)):
        if before is not None and (archive.day_start(day), 0) >= changelog.id_key(before):
            continue  # all of that day is at or after where this page starts
        if scan.read >= budget:
            return BoxPage(found, f"{archive.day_end(day)}-0")
        for entry in archive.day_newest_first(board.slug, day, before, scan.keep):
            found.append(_event(board, entry, box))
            if len(found) >= limit:
                return BoxPage(found, entry.id)
    return BoxPage(found, None)


class _Scan:
    """Counts the entries a box's history reads, and stops the live log's reading at the budget."""

    def __init__(self, box, budget):
        self.box = box
        self.wanted = str(box).encode()
        self.budget = budget
        self.read = 0
        self.stopped = False
        self.last_matches = False

    def keep_raw(self, fields):
        # At the budget the entry is let through whatever it is, so that its
        # id (where the next page starts) is known; sets() says if it counts.
        self.read += 1
        self.last_matches = fields[0] != b"box" or fields[1] == self.wanted
        if self.read >= self.budget:
            self.stopped = True
            return True
        return self.last_matches

    def sets(self, entry):
        return self.last_matches and self.keep(entry, count=False)

    def keep(self, entry, count=True):
        self.read += count
        return isinstance(entry, Reset) or entry.box == self.box


def _event(board, entry, box):
    value = _bit(bits_named(board, entry.digest), box) if isinstance(entry, Reset) else entry.value
    return BoxEvent(entry, value)


def _bit(bits, box):
    return None if bits is None else bitset.get(bits, box)


@functools.lru_cache(maxsize=8)
def empty_digest(size):
    return bitset.digest(bytes(bitset.byte_length(size)))


def bits_named(board, digest):
    """The bitset a reset entry names: the empty board, or a snapshot with that content; None if none is kept."""
    if digest == empty_digest(board.size):
        return bytes(bitset.byte_length(board.size))
    snapshot = board.snapshots.filter(digest=digest, size=board.size).first()
    return snapshot.bits() if snapshot else None


# -- one network -------------------------------------------------------------------


def within(network):
    """A test of whether a change's author is inside ``network`` (an ip_network)."""

    @functools.lru_cache(maxsize=4096)
    def inside(label):
        try:
            theirs = ipaddress.ip_network(label)
        except ValueError:
            return False
        return theirs.version == network.version and theirs.subnet_of(network)

    def test(entry):
        return isinstance(entry, Change) and bool(entry.network) and inside(entry.network)

    return test


@dataclass
class NetworkChanges:
    """What one network changed on a board in a window, oldest first."""

    network: object
    since: object
    until: object
    changes: list

    @property
    def boxes(self):
        return {change.box for change in self.changes}

    @property
    def checked(self):
        return sum(change.value for change in self.changes)

    @property
    def unchecked(self):
        return len(self.changes) - self.checked

    def picture(self, size):
        """The boxes it touched, in the checked colour, on the admin's overview of the board."""
        return pictures.overview(bits_of(self.boxes, size), size)


def network_changes(board, network, since, until):
    mine = within(network)
    return NetworkChanges(network, since, until, [entry for entry in entries(board, since, until) if mine(entry)])


def bits_of(boxes, size):
    """A bitset with ``boxes`` checked."""
    bits = bytearray(bitset.byte_length(size))
    for box in boxes:
        bits[box >> 3] |= 0x80 >> (box & 7)
    return bytes(bits)


# -- undoing one network -------------------------------------------------------------


@dataclass
class RevertPlan:
    """What reverting a network since a moment would do, worked out from the log.

    ``restore`` maps each box whose latest change came from the network to the
    value it had before the network's first change of it. Boxes someone else
    changed afterwards are ``kept`` as they are; boxes the network itself put
    back are ``unchanged``.
    """

    network: object
    since: object
    changes: int = 0
    restore: dict = field(default_factory=dict)
    kept: set = field(default_factory=set)
    unchanged: set = field(default_factory=set)
    last_id: str | None = None

    @property
    def checks(self):
        """Boxes the revert checks."""
        return sum(self.restore.values())

    @property
    def unchecks(self):
        return len(self.restore) - self.checks

    def picture(self, size):
        """The boxes the revert would change, in the checked colour, on the admin's overview of the board."""
        return pictures.overview(bits_of(self.restore, size), size)


def revert_plan(board, network, since):
    """What undoing everything ``network`` did to ``board`` since ``since`` would change."""
    mine = within(network)
    before, left, latest_mine = {}, {}, {}
    plan = RevertPlan(network, since)
    for entry in entries(board, since):
        plan.last_id = entry.id
        if isinstance(entry, Reset):
            # The whole board was replaced: what they did before is already gone.
            before.clear()
            left.clear()
            latest_mine.clear()
            plan.changes = 0
            continue
        if mine(entry):
            plan.changes += 1
            # Only real changes are logged, so the value before one is the other value.
            before.setdefault(entry.box, 1 - entry.value)
            left[entry.box] = entry.value
            latest_mine[entry.box] = True
        elif entry.box in before:
            latest_mine[entry.box] = False
    for box, value in before.items():
        if not latest_mine[box]:
            plan.kept.add(box)
        elif left[box] == value:
            plan.unchanged.add(box)
        else:
            plan.restore[box] = value
    return plan
