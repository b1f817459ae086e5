"""
A board's change log in Redis: what its entries are and how to read them
(docs/history.md).

The log is a stream, ``<prefix>:{<slug>}:log``, appended by the same Lua calls
that change the board (board/state.py), so the log and the live board never
disagree. An entry's id is the Redis time it was written, in milliseconds, and
a sequence number. There are two kinds:

- a :class:`Change`: one box set to a new value by one author, and the board
  version it produced. Only real changes are logged, so a change always flips
  its box: the value before it is ``1 - value``.
- a :class:`Reset`: the whole bitset replaced (restored, cleared, imported) or
  the board (re)created in Redis ("created" empty, "recovered" from a
  snapshot), naming the new bitset by its SHA-256 digest, as snapshots do.

Entries older than retention are trimmed by the scripts; ``archivelog`` moves
older ones to files (board/archive.py). board/history.py reads both as one.
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import redis
from django.conf import settings

from . import clients, state

logger = logging.getLogger(__name__)

# Entries fetched from Redis per round trip.
CHUNK = 5000
# How often each serving process trims its boards' logs by age.
TRIM_SECONDS = 60


class Change(NamedTuple):
    id: str
    box: int
    value: int
    version: int
    network: str
    address: str
    connection: str

    @property
    def time(self):
        return time_of(self.id)

    @property
    def who(self):
        """The author as a moderator reads it: the network, or what made the change."""
        return self.network or self.connection or "unknown"


class Reset(NamedTuple):
    id: str
    reason: str
    version: int
    epoch: int
    digest: str
    by: str

    @property
    def time(self):
        return time_of(self.id)

    @property
    def who(self):
        return self.by or "the server"


# -- ids ----------------------------------------------------------------------


def milliseconds(moment):
    return int(moment.timestamp() * 1000)


def time_of(entry_id):
    """When an entry was written: its id's milliseconds, as an aware UTC datetime."""
    return datetime.fromtimestamp(int(entry_id.partition("-")[0]) / 1000, tz=UTC)


def id_key(entry_id):
    """An id as a tuple that sorts as Redis sorts ids."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def after(entry_id):
    """The smallest id after ``entry_id``."""
    ms, seq = id_key(entry_id)
    return f"{ms}-{seq + 1}"


def lower_bound(moment):
    """The first id at or after ``moment`` (None: the log's start)."""
    return "-" if moment is None else str(milliseconds(moment))


def upper_bound(moment):
    """The last id at or before ``moment`` (None: the log's end). An id of just milliseconds ends that millisecond."""
    return "+" if moment is None else str(milliseconds(moment))


# -- reading Redis ------------------------------------------------------------


def parse(raw_id, fields):
    """An entry from a stream reply: ``fields`` is the flat list of names and values the scripts wrote."""
    entry_id = raw_id.decode()
    if fields[0] == b"box":
        return Change(
            entry_id,
            int(fields[1]),
            int(fields[3]),
            int(fields[5]),
            fields[7].decode(),
            fields[9].decode(),
            fields[11].decode(),
        )
    return Reset(entry_id, fields[1].decode(), int(fields[3]), int(fields[5]), fields[7].decode(), fields[9].decode())


def _reader():
    """A function reading ``(key, start, end, reverse)``'s chunk as ``[(raw id, flat fields)]``, oldest first.

    redis-py turns each entry into a dict, which takes longer than reading it;
    on one server the entries come as Redis sent them, on a client of the
    state's connections without that callback, and are parsed by position. The
    cluster client routes through a client per node that it replaces after a
    failover, so there its dicts are flattened back instead (their order is the
    stream's).
    """
    client = state.sync_client()
    if clients.node_of(client, "") is not None:
        return lambda *args: [(raw_id, _flat(fields)) for raw_id, fields in _chunk(client, *args)]
    plain = redis.Redis(connection_pool=client.connection_pool)
    for command in ("XRANGE", "XREVRANGE"):
        plain.response_callbacks.pop(command, None)
    return lambda *args: _chunk(plain, *args)


def _chunk(client, key, start, end, reverse):
    if reverse:
        return client.execute_command("XREVRANGE", key, end, start, "COUNT", CHUNK)
    return client.execute_command("XRANGE", key, start, end, "COUNT", CHUNK)


def _flat(fields):
    return [item for pair in fields.items() for item in pair]


def read(slug, start="-", end="+", reverse=False, keep=None):
    """The live log's entries from id ``start`` to ``end`` (inclusive; ``(id`` excludes), in chunks.

    Oldest first, or newest first with ``reverse``. ``keep`` sees each entry's
    raw fields first, so a search skips parsing the entries it does not want.
    """
    fetch, key = _reader(), state.changelog_key(slug)
    while True:
        try:
            chunk = fetch(key, start, end, reverse)
        except state.REDIS_ERRORS as error:
            raise state.StateUnavailable(str(error)) from error
        for raw_id, fields in chunk:
            if keep is None or keep(fields):
                yield parse(raw_id, fields)
        if len(chunk) < CHUNK:
            return
        last = "(" + chunk[-1][0].decode()
        if reverse:
            end = last
        else:
            start = last


def oldest_id(slug):
    """The id of the live log's oldest entry, or None when it is empty."""
    try:
        first = state.sync_client().xrange(state.changelog_key(slug), count=1)
    except state.REDIS_ERRORS as error:
        raise state.StateUnavailable(str(error)) from error
    return first[0][0].decode() if first else None


def length(slug):
    try:
        return state.sync_client().xlen(state.changelog_key(slug))
    except state.REDIS_ERRORS as error:
        raise state.StateUnavailable(str(error)) from error


def count(slug, since=None, before=None):
    """How many of the live log's entries were written from ``since`` to before ``before`` (datetimes or None).

    It reads them: as long as reading the same entries for an archive would take.
    """
    start = "-" if since is None else f"{milliseconds(since)}-0"
    end = "+" if before is None else f"({milliseconds(before)}-0"
    return sum(1 for _ in read(slug, start, end))


def forget_until(slug, entry_id):
    """Delete the live log's entries up to and including ``entry_id`` (they are archived)."""
    try:
        state.sync_client().xtrim(state.changelog_key(slug), minid=after(entry_id), approximate=False)
    except state.REDIS_ERRORS as error:
        raise state.StateUnavailable(str(error)) from error


# -- retention ------------------------------------------------------------------


def retention_cutoff(now):
    """The oldest moment whose entries retention still keeps."""
    return now - timedelta(hours=settings.HISTORY_RETENTION_HOURS)


def trim(slug, before):
    """Delete the live log's entries written before ``before``; how many went."""
    try:
        return state.sync_client().xtrim(state.changelog_key(slug), minid=milliseconds(before), approximate=False)
    except state.REDIS_ERRORS as error:
        raise state.StateUnavailable(str(error)) from error


def rewrite_redis_files():
    """Have Redis rewrite its append-only file and save a fresh dump, so trimmed entries leave its disk too.

    Both run in Redis's background; each starts only if that kind of file is
    configured. Returns the sentences saying what was started, or why not.
    """
    client = state.sync_client()
    done = []
    # On a cluster, every primary holds some boards' logs.
    targets = clients.primaries(client) or [None]
    try:
        for target in targets:
            on = {} if target is None else {"target_nodes": target}
            if client.info("persistence", **on).get("aof_enabled"):
                client.bgrewriteaof(**on)
                done.append("Redis is rewriting its append-only file.")
            if client.config_get("save", **on).get("save"):
                client.bgsave(schedule=True, **on)
                done.append("Redis is saving a fresh dump.")
        done = list(dict.fromkeys(done))
    except redis.ResponseError as error:
        done.append(f"Redis refused to rewrite its files ({error}); trimmed entries stay in them until it does.")
    except state.REDIS_ERRORS as error:
        raise state.StateUnavailable(str(error)) from error
    return done


async def trim_periodically(slug):
    """A hub's task: drop entries past retention every minute, so they go on time on a board nobody changes.

    The scripts trim on every change, and an idle log expires whole; without
    this, one change a day would keep the previous day's entries a day longer.
    """
    while True:
        await asyncio.sleep(TRIM_SECONDS)
        cutoff = milliseconds(retention_cutoff(datetime.now(UTC)))
        try:
            await state.async_client().xtrim(state.changelog_key(slug), minid=cutoff, approximate=False)
        except state.TRANSIENT_ERRORS as error:
            # The next minute tries again; the beacon reports Redis being away.
            logger.debug("Could not trim the log of %s: %s", slug, error)
