"""
History archives: older entries of the boards' logs, moved out of Redis into
files where they cost no memory (docs/history.md).

``HISTORY_ARCHIVE_DIR/<slug>/<YYYY-MM-DD>.tsv.gz`` holds one board's entries of
one UTC day, one per line, tab-separated, as ``zcat`` shows them::

    #checkboxes-history 1 board=main day=2025-01-03 anonymous-before=1735862400000
    #id	box|reset	value|reason	version	network|epoch	address|digest	connection|by
    1735900000123-0	51234	1	88120	203.0.113.9/32	203.0.113.9	3fa2c1b4e5d6
    1735900060000-0	reset	restored	88121	1734512	9f86d08f…	admin:erin

Entries written before ``anonymous-before`` (Unix milliseconds) have lost their
network, address and connection: an archive keeps who made a change no longer
than the log does (``HISTORY_RETENTION_HOURS``, docs/privacy.md). Day files
older than ``HISTORY_ARCHIVE_DAYS`` are deleted.

A file is only ever replaced whole (written beside it, then renamed over it),
so a crash leaves the old file or the new one. Entries leave Redis only once
their files are in place; an entry that is in a file and still in Redis (a
crash in between) is written once and read once.
"""

import gzip
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from django.conf import settings

from ..store import changelog
from ..store.changelog import Change, Reset, id_key, milliseconds, time_of

SUFFIX = ".tsv.gz"
MAGIC = "#checkboxes-history 1"
COLUMNS = "#id\tbox|reset\tvalue|reason\tversion\tnetwork|epoch\taddress|digest\tconnection|by\n"


class ArchiveError(Exception):
    """An archive that cannot be written or read, with a sentence saying why."""


@dataclass(frozen=True)
class Archived:
    entries: int
    days: list


@dataclass(frozen=True)
class Tidied:
    deleted: int
    anonymised: int


def directory(slug):
    return settings.HISTORY_ARCHIVE_DIR / slug


def path(slug, day):
    return directory(slug) / f"{day.isoformat()}{SUFFIX}"


def days(slug):
    """The days a board has archive files for, oldest first."""
    found = []
    folder = directory(slug)
    if not folder.is_dir():
        return found
    for item in folder.iterdir():
        if item.name.endswith(SUFFIX) and not item.name.startswith("."):
            try:
                found.append(date.fromisoformat(item.name[: -len(SUFFIX)]))
            except ValueError:
                continue
    return sorted(found)


def day_start(day):
    """Unix milliseconds at which a UTC day starts."""
    return milliseconds(datetime(day.year, day.month, day.day, tzinfo=UTC))


def day_end(day):
    return day_start(day + timedelta(days=1))


# -- lines --------------------------------------------------------------------


def _clean(text):
    return text.replace("\t", " ").replace("\n", " ")


def to_line(entry):
    if isinstance(entry, Reset):
        fields = (entry.id, "reset", entry.reason, entry.version, entry.epoch, entry.digest, _clean(entry.by))
    else:
        connection = _clean(entry.connection)
        fields = (entry.id, entry.box, entry.value, entry.version, entry.network, entry.address, connection)
    return "\t".join(map(str, fields)) + "\n"


def from_line(line):
    entry_id, kind, first, version, second, third, fourth = line.rstrip("\n").split("\t")
    if kind == "reset":
        return Reset(entry_id, first, int(version), int(second), third, fourth)
    return Change(entry_id, int(kind), int(first), int(version), second, third, fourth)


def anonymous(entry):
    """The entry without who made it."""
    if isinstance(entry, Reset):
        return entry._replace(by="")
    return entry._replace(network="", address="", connection="")


# -- reading ------------------------------------------------------------------


def load(slug, day):
    """Every entry of one day file, oldest first."""
    return list(_entries(path(slug, day)))


def _entries(file):
    try:
        with gzip.open(file, "rt", encoding="utf-8") as lines:
            for line in lines:
                if not line.startswith("#"):
                    yield from_line(line)
    except (OSError, EOFError, ValueError) as error:
        raise ArchiveError(f"Could not read the history archive {file}: {error}.") from None


def header(file):
    """The first line's ``name=value`` fields."""
    try:
        with gzip.open(file, "rt", encoding="utf-8") as lines:
            first = lines.readline()
    except (OSError, EOFError) as error:
        raise ArchiveError(f"Could not read the history archive {file}: {error}.") from None
    if not first.startswith(MAGIC):
        raise ArchiveError(f"{file} is not a history archive (its first line is not {MAGIC!r}).")
    return dict(field.split("=", 1) for field in first.split()[2:] if "=" in field)


def read(slug, since=None, until=None):
    """The archived entries written from ``since`` to ``until`` (datetimes, inclusive), oldest first."""
    low = -1 if since is None else milliseconds(since)
    high = float("inf") if until is None else milliseconds(until)
    for day in days(slug):
        if (since is not None and day < since.astimezone(UTC).date()) or (
            until is not None and day > until.astimezone(UTC).date()
        ):
            continue
        for entry in _entries(path(slug, day)):
            ms = id_key(entry.id)[0]
            if low <= ms <= high:
                yield entry


def read_newest_first(slug, before=None, keep=None):
    """The archived entries older than id ``before`` (all of them when None), newest first.

    A day is read whole before its newest entry comes out: ``keep`` picks the
    entries worth holding on to, so a search holds only what it looks for.
    """
    for day in reversed(days(slug)):
        yield from day_newest_first(slug, day, before, keep)


def day_newest_first(slug, day, before=None, keep=None):
    """One day file's entries older than id ``before`` that ``keep`` keeps, newest first; the file is read whole."""
    limit = None if before is None else id_key(before)
    kept = [
        entry
        for entry in _entries(path(slug, day))
        if (limit is None or id_key(entry.id) < limit) and (keep is None or keep(entry))
    ]
    return reversed(kept)


# -- writing ------------------------------------------------------------------


class DayWriter:
    """Writes one day's file anew: its entries so far, then new ones after them.

    Entries written before ``forget_before`` (Unix ms) are written without who
    made them. Nothing replaces the old file until :meth:`close`.
    """

    def __init__(self, slug, day, forget_before):
        self.slug, self.day = slug, day
        self.final = path(slug, day)
        self.forget_before = forget_before
        self.last = None
        previous = int(header(self.final).get("anonymous-before", 0)) if self.final.exists() else 0
        anonymous_before = max(previous, min(forget_before, day_end(day)))
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=self.final.parent, prefix=f".{day.isoformat()}.", suffix=".tmp")
            os.close(handle)
            self.temp = Path(name)
            # Open across calls: close() or discard() closes it.
            self.out = gzip.open(self.temp, "wt", encoding="utf-8", compresslevel=6)  # noqa: SIM115
        except OSError as error:
            raise ArchiveError(f"Cannot write history archives in {self.final.parent}: {error.strerror}.") from None
        self._write_text(f"{MAGIC} board={slug} day={day.isoformat()} anonymous-before={anonymous_before}\n")
        self._write_text(COLUMNS)
        if self.final.exists():
            self._copy(self.final)

    def _copy(self, old):
        try:
            for entry in _entries(old):
                self.add(entry)
        except ArchiveError:
            self.discard()
            raise

    def add(self, entry):
        """Append ``entry`` unless the file already has it; whether it was new."""
        key = id_key(entry.id)
        if self.last is not None and key <= self.last:
            return False
        if key[0] < self.forget_before:
            entry = anonymous(entry)
        self._write_text(to_line(entry))
        self.last = key
        return True

    def _write_text(self, text):
        try:
            self.out.write(text)
        except OSError as error:
            self.discard()
            raise ArchiveError(f"Could not write {self.temp}: {error.strerror}.") from None

    def close(self):
        """Put the new file in place of the old one."""
        try:
            self.out.close()
            with open(self.temp, "rb") as written:
                os.fsync(written.fileno())
            os.replace(self.temp, self.final)
        except OSError as error:
            self.discard()
            raise ArchiveError(f"Could not write {self.final}: {error.strerror}.") from None

    def discard(self):
        try:
            self.out.close()
        except OSError:
            pass
        self.temp.unlink(missing_ok=True)


def archive(slug, before, forget_before):
    """Move the live log's entries written before ``before`` into day files; what was archived.

    Identities of entries written before ``forget_before`` are left out. The
    entries are deleted from Redis only after every file is in place.
    """
    writer, written, last_id, touched = None, 0, None, []
    end = f"({milliseconds(before)}-0"
    try:
        for entry in changelog.read(slug, "-", end):
            day = time_of(entry.id).date()
            if writer is None or writer.day != day:
                if writer is not None:
                    writer.close()
                writer = DayWriter(slug, day, milliseconds(forget_before))
                touched.append(day)
            written += writer.add(entry)
            last_id = entry.id
        if writer is not None:
            writer.close()
            writer = None
    finally:
        if writer is not None:
            writer.discard()
    if last_id is not None:
        changelog.forget_until(slug, last_id)
    return Archived(written, touched)


def preview(slug, before):
    """What :func:`archive` would move (entries and their days), with nothing written or deleted."""
    entries, touched = 0, []
    for entry in changelog.read(slug, "-", f"({milliseconds(before)}-0"):
        entries += 1
        day = time_of(entry.id).date()
        if not touched or touched[-1] != day:
            touched.append(day)
    return Archived(entries, touched)


def tidy(now, dry_run=False):
    """Every board's archives: delete days past ``HISTORY_ARCHIVE_DAYS``, forget identities past retention.

    With ``dry_run``, count what would be done and touch no file.
    """
    root = settings.HISTORY_ARCHIVE_DIR
    if not root.is_dir():
        return Tidied(0, 0)
    forget_before = milliseconds(changelog.retention_cutoff(now))
    oldest_kept = (now - timedelta(days=settings.HISTORY_ARCHIVE_DAYS)).date()
    deleted = anonymised = 0
    for folder in sorted(item for item in root.iterdir() if item.is_dir()):
        for leftover in () if dry_run else folder.glob(".*.tmp"):
            # A run that crashed before renaming its file; the entries are still in Redis or the old file.
            leftover.unlink(missing_ok=True)
        for day in days(folder.name):
            file = path(folder.name, day)
            if settings.HISTORY_ARCHIVE_DAYS and day < oldest_kept:
                if not dry_run:
                    file.unlink()
                deleted += 1
            elif _holds_identities_before(file, day, forget_before):
                if not dry_run:
                    DayWriter(folder.name, day, forget_before).close()
                anonymised += 1
    return Tidied(deleted, anonymised)


def _holds_identities_before(file, day, moment):
    """Whether a day file may still name who made changes written before ``moment`` (Unix ms)."""
    if day_start(day) >= moment:
        return False
    return int(header(file).get("anonymous-before", 0)) < min(moment, day_end(day))
