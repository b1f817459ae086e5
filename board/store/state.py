"""
Live board state in Redis.

A board is three keys sharing a hash tag, so a Redis Cluster keeps them together:

- ``<prefix>:{<slug>}:bits``: the bitset. Bit i is box i, most significant bit
  first, exactly as ``SETBIT`` numbers them (``SETBIT k 0 1`` makes byte 0 ``0x80``).
- ``<prefix>:{<slug>}:meta``: a hash of ``size``, ``frozen``, ``count`` (boxes
  checked), ``version`` (real changes applied in this epoch) and ``epoch`` (a
  random number that changes whenever the whole bitset is replaced).
- ``<prefix>:{<slug>}:log``: the board's change log, a stream with one entry
  per applied change and one per replaced bitset (docs/history.md).

Only the Lua scripts below change them, so a change, its count, its version and
its entry in the change log move together or not at all. A change is "set box i
to v", never "toggle": a repeated or replayed change leaves the board as it was,
and only a change that really flips a bit bumps the version.

Every public function has an async twin used on the WebSocket path; the sync
ones serve views, the admin and management commands.
"""

import asyncio
import contextvars
import enum
import functools
import itertools
import secrets
import time
import weakref
from dataclasses import dataclass
from typing import NamedTuple

import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist

from .. import bitset, metrics
from . import clients


class Status(enum.IntEnum):
    """Outcome of one change, as sent to the client that asked for it."""

    APPLIED = 0
    UNCHANGED = 1
    FROZEN = 2
    OUT_OF_RANGE = 3
    BAD_VALUE = 4
    UNAVAILABLE = 5
    RATE_LIMITED = 6
    BANNED = 7


class StateUnavailable(Exception):
    """Redis could not be reached; nothing was changed."""


class StorageRefused(StateUnavailable):
    """Redis answered, but refused to change anything now (full, failing to save, a replica, busy)."""


class StateMissing(Exception):
    """The board has no live state in Redis yet (new board, or Redis lost it)."""


class BoardGone(StateUnavailable):
    """The board was deleted from the database: its live state is never created again."""


class StateMoved(Exception):
    """The board changed since the epoch and version a replace expected; nothing was replaced."""


@dataclass(frozen=True)
class Meta:
    size: int
    frozen: bool
    epoch: int
    version: int
    count: int


@dataclass(frozen=True)
class Applied:
    """Result of one batch of changes applied by one Lua call.

    ``statuses[k]`` is the outcome of the k-th change. The changes that applied
    got consecutive versions ``from_version + 1``, ``from_version + 2``, …
    """

    epoch: int
    from_version: int
    count: int
    statuses: list

    @property
    def to_version(self):
        return self.from_version + self.statuses.count(Status.APPLIED)

    def versions(self):
        """The board version each change left behind, change by change."""
        version, out = self.from_version, []
        for status in self.statuses:
            if status == Status.APPLIED:
                version += 1
            out.append(version)
        return out


@dataclass(frozen=True)
class Swapped:
    """One replace, as its single Lua call saw it: the bits it took away with the
    meta they had, and the bits it put there with the meta they have. Nothing
    happened to the board in between, so both agree exactly with the log."""

    old_bits: bytes
    old: Meta
    new_bits: bytes
    new: Meta


class Author(NamedTuple):
    """Who made a change, as the board's log records it (docs/history.md).

    A player is known by the network bans and limits group it into, its address
    and its socket's connection id. A change made by a moderator or a command
    has no network; ``connection`` then says what made it ("revert:erin").
    """

    network: str = ""
    address: str = ""
    connection: str = ""


NOBODY = Author()

# What the scripts that change a board share: appending to its log and keeping
# the log within retention. Length is trimmed approximately (whole stream nodes,
# which is cheap) and age exactly, since addresses must go when retention says;
# an idle log expires as a whole once its newest entry is past retention.
CHANGELOG_LUA = """
local function trim(log, max_entries, retention_ms)
  local now = redis.call('TIME')
  local cutoff = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - retention_ms
  redis.call('XTRIM', log, 'MAXLEN', '~', max_entries)
  redis.call('XTRIM', log, 'MINID', cutoff)
  redis.call('PEXPIRE', log, retention_ms)
end
local function changelog_reset(log, reason, version, epoch, digest, by)
  redis.call('XADD', log, '*', 'reset', reason, 'version', version, 'epoch', epoch, 'digest', digest, 'by', by)
end
"""

# KEYS: bits, meta, log. ARGV: log (1 records the applied changes), max entries,
# retention ms, force (1 applies even to a frozen board), the number of
# authors n, their 3n fields (network, address, connection), then a
# (box, value, author number) triple per change.
APPLY_LUA = (
    CHANGELOG_LUA
    + """
local meta = redis.call('HMGET', KEYS[2], 'size', 'frozen', 'version', 'epoch', 'count')
if not meta[1] then return {0} end
local size = tonumber(meta[1])
local frozen = meta[2] == '1' and ARGV[4] ~= '1'
local version = tonumber(meta[3])
local logged = ARGV[1] == '1'
local out = {tonumber(meta[4]), version, 0}
local applied, delta = 0, 0
for i = 6 + 3 * tonumber(ARGV[5]), #ARGV, 3 do
  local index, value = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local status
  if frozen then
    status = 2
  elseif index == nil or index < 0 or index >= size or index % 1 ~= 0 then
    status = 3
  elseif value ~= 0 and value ~= 1 then
    status = 4
  elseif redis.call('SETBIT', KEYS[1], index, value) == value then
    status = 1
  else
    status = 0
    applied = applied + 1
    delta = delta + (value == 1 and 1 or -1)
    if logged then
      -- Author k's fields are ARGV[3k + 3] to ARGV[3k + 5].
      local a = 3 * tonumber(ARGV[i + 2]) + 3
      redis.call('XADD', KEYS[3], '*', 'box', ARGV[i], 'value', ARGV[i + 1], 'version', version + applied,
        'network', ARGV[a], 'address', ARGV[a + 1], 'connection', ARGV[a + 2])
    end
  end
  out[#out + 1] = status
end
if applied > 0 then
  redis.call('HINCRBY', KEYS[2], 'version', applied)
  redis.call('HINCRBY', KEYS[2], 'count', delta)
  if logged then trim(KEYS[3], ARGV[2], tonumber(ARGV[3])) end
end
out[3] = tonumber(meta[5]) + delta
return out
"""
)

# Creates the state only if it is not there, so when several processes notice
# a missing board at once, exactly one of them initialises it. ARGV: size,
# frozen, epoch, version, bits ('' for empty), then the log's: log, reason,
# digest, max entries, retention ms.
INIT_LUA = (
    CHANGELOG_LUA
    + """
if redis.call('EXISTS', KEYS[1], KEYS[2]) == 2 then return 0 end
local size = tonumber(ARGV[1])
redis.call('DEL', KEYS[1])
if ARGV[5] == '' then
  redis.call('SETRANGE', KEYS[1], math.floor((size + 7) / 8) - 1, '\\0')
else
  redis.call('SET', KEYS[1], ARGV[5])
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'size', ARGV[1], 'frozen', ARGV[2], 'epoch', ARGV[3],
  'version', ARGV[4], 'count', redis.call('BITCOUNT', KEYS[1]))
if ARGV[6] == '1' then
  changelog_reset(KEYS[3], ARGV[7], ARGV[4], ARGV[3], ARGV[8], '')
  trim(KEYS[3], ARGV[9], tonumber(ARGV[10]))
end
return 1
"""
)

# Swaps in a whole new bitset (restore, clear, import) atomically, under a new
# epoch so that every client knows to fetch the state again; the version goes
# on upward from the old one. Returns the old bits with the meta they had and
# the new meta, so that the snapshots either side of the swap are exactly what
# it replaced and what it put there (board/moderation.py). ARGV: bits, epoch,
# the log's (log, reason, digest, by, max entries, retention ms), then the
# epoch and version the board must still have ('' for any): a rollback must not
# undo changes made since.
REPLACE_LUA = (
    CHANGELOG_LUA
    + """
local meta = redis.call('HMGET', KEYS[2], 'size', 'frozen', 'epoch', 'version', 'count')
if not meta[1] then return {-1} end
if string.len(ARGV[1]) ~= math.floor((tonumber(meta[1]) + 7) / 8) then return {-2} end
if ARGV[9] ~= '' and (meta[3] ~= ARGV[9] or meta[4] ~= ARGV[10]) then return {-3} end
local old = redis.call('GET', KEYS[1])
if not old then return {-1} end
redis.call('SET', KEYS[1], ARGV[1])
local count = redis.call('BITCOUNT', KEYS[1])
local version = tonumber(meta[4]) + 1
redis.call('HSET', KEYS[2], 'epoch', ARGV[2], 'version', version, 'count', count)
if ARGV[3] == '1' then
  changelog_reset(KEYS[3], ARGV[4], version, ARGV[2], ARGV[5], ARGV[6])
  trim(KEYS[3], ARGV[7], tonumber(ARGV[8]))
end
return {1, old, meta[1], meta[2], meta[3], meta[4], meta[5], ARGV[2], version, count}
"""
)

FREEZE_LUA = """
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
redis.call('HSET', KEYS[2], 'frozen', ARGV[1])
return 1
"""

META_FIELDS = ("size", "frozen", "epoch", "version", "count")
# A cluster between a primary's death and its replica's promotion answers
# CLUSTERDOWN, or has no node for a slot: for the callers, Redis is away.
REDIS_ERRORS = (
    redis.ConnectionError,
    redis.TimeoutError,
    OSError,
    redis.exceptions.ClusterError,
    redis.exceptions.SlotNotCoveredError,
)
# Error replies that mean "not now" rather than "wrong command": the maxmemory
# limit (OOM), a failed RDB save with stop-writes-on-bgsave-error (MISCONF), a
# replica after a failover (READONLY), a long script (BUSY), a cluster in
# trouble. redis-py turns OOM and READONLY into their own classes.
REFUSAL_CODES = ("MISCONF", "BUSY", "MASTERDOWN", "NOREPLICAS", "CLUSTERDOWN", "TRYAGAIN", "LOADING", "NOSCRIPT")
# What a background task that only has to try again later catches.
TRANSIENT_ERRORS = (*REDIS_ERRORS, redis.ResponseError)


def refused(error):
    """True if ``error`` is Redis refusing for now (see REFUSAL_CODES), not a bug in the command."""
    if isinstance(error, (redis.exceptions.OutOfMemoryError, redis.exceptions.ReadOnlyError)):
        return True
    return isinstance(error, redis.ResponseError) and str(error).startswith(REFUSAL_CODES)


def _storage(function):
    """Raise StateUnavailable for an unreachable Redis and StorageRefused for a refusing one."""

    if asyncio.iscoroutinefunction(function):

        @functools.wraps(function)
        async def guarded(*args, **kwargs):
            try:
                return await function(*args, **kwargs)
            except redis.ResponseError as error:
                metrics.redis_error(error)
                if not refused(error):
                    raise
                raise StorageRefused(str(error)) from error
            except BoardGone:
                raise
            except StateUnavailable as error:
                metrics.redis_error(error)
                raise

    else:

        @functools.wraps(function)
        def guarded(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except redis.ResponseError as error:
                metrics.redis_error(error)
                if not refused(error):
                    raise
                raise StorageRefused(str(error)) from error
            except BoardGone:
                raise
            except StateUnavailable as error:
                metrics.redis_error(error)
                raise

    return guarded


def keys(slug):
    prefix = settings.REDIS_PREFIX
    return f"{prefix}:{{{slug}}}:bits", f"{prefix}:{{{slug}}}:meta"


def changelog_key(slug):
    """The board's history: a stream of its changes (docs/history.md)."""
    return f"{settings.REDIS_PREFIX}:{{{slug}}}:log"


def _script_keys(slug):
    return [*keys(slug), changelog_key(slug)]


def readiness_key(process):
    """What /readyz writes to prove Redis takes writes (it expires on its own)."""
    return f"{settings.REDIS_PREFIX}:readyz:{process}"


def presence_key(slug):
    return f"{settings.REDIS_PREFIX}:{{{slug}}}:presence"


def new_epoch():
    return secrets.randbelow(2**31 - 1) + 1


def _parse_meta(values):
    if values[0] is None:
        raise StateMissing()
    size, frozen, epoch, version, count = values
    return Meta(int(size), frozen in (b"1", "1"), int(epoch), int(version), int(count))


def _parse_applied(reply):
    if reply[0] == 0:
        raise StateMissing()
    epoch, from_version, count, *statuses = reply
    return Applied(epoch, from_version, count, [Status(s) for s in statuses])


def _changelog_args():
    """The log's settings as the scripts take them: on or off, max entries, retention in ms."""
    retention_ms = settings.HISTORY_RETENTION_HOURS * 3_600_000
    return [int(settings.HISTORY_ENABLED), settings.HISTORY_MAX_ENTRIES, retention_ms]


def _apply_args(changes, authors=None, force=False):
    """APPLY_LUA's ARGV: each distinct author once, then ``(box, value, author number)`` per change."""
    pairs = zip(changes, authors, strict=True) if authors is not None else zip(changes, itertools.repeat(NOBODY))
    numbers, fields, args = {}, [], []
    for (index, value), author in pairs:
        number = numbers.get(author)
        if number is None:
            number = numbers[author] = len(numbers) + 1
            fields += author
        args += (index, value, number)
    log, max_entries, retention_ms = _changelog_args()
    return [log, max_entries, retention_ms, int(force), len(numbers), *fields, *args]


def _initial_state(board):
    """What a missing state starts from; BoardGone once the board is deleted, so a late change cannot revive it."""
    try:
        return board.initial_state()
    except ObjectDoesNotExist:
        raise BoardGone(f"board {board.slug} was deleted") from None


def _init_args(board, initial):
    bits, version = initial if initial else (b"", 0)
    if bits and len(bits) != bitset.byte_length(board.size):
        raise ValueError(
            f"initial state has {len(bits)} bytes; a board of {board.size} needs {bitset.byte_length(board.size)}"
        )
    bits = bitset.mask_padding(bits, board.size)
    log, max_entries, retention_ms = _changelog_args()
    # The log names the board it starts from, so that a replay can begin there.
    reason = "recovered" if bits else "created"
    digest = bitset.digest(bits or bytes(bitset.byte_length(board.size))) if log else ""
    return [board.size, int(board.frozen), new_epoch(), version, bits, log, reason, digest, max_entries, retention_ms]


class _Scripts:
    def __init__(self, client):
        self.client = client
        self.apply = client.register_script(APPLY_LUA)
        self.init = client.register_script(INIT_LUA)
        self.replace = client.register_script(REPLACE_LUA)
        self.freeze = client.register_script(FREEZE_LUA)


_sync_scripts = {}
_async_scripts = weakref.WeakKeyDictionary()
# How long a request waits for a free Redis connection before it counts as unavailable.
POOL_WAIT_SECONDS = 5
# Which of its loop's Redis clients a task uses, each with connections of its
# own. Sockets opening by the thousand, each making a few calls at once, took
# every connection of a single pool: a batch of changes waiting for one for
# POOL_WAIT_SECONDS was taken for Redis lost (every player of the process closed
# 4503), and a player's change waited seconds for its network's budget
# (docs/reliability.md). So the board hubs' own loops (the writer, the beacon,
# the housekeeping) run in the "hub" lane, a socket that has had its hello in
# the "players" lane, and whatever strangers ask (sockets opening, HTTP
# requests) in the "strangers" lane.
LANE = contextvars.ContextVar("redis_lane", default="strangers")
LANE_CONNECTIONS = {"strangers": 64, "players": 64, "hub": 32}


def _client_options(lane="strangers"):
    return {
        "socket_connect_timeout": 3,
        "socket_timeout": 10,
        "health_check_interval": 15,
        "max_connections": LANE_CONNECTIONS[lane],
    }


def sync_scripts():
    """Scripts bound to a thread-safe sync client for the configured Redis (board/store/clients.py)."""
    url = settings.REDIS_URL
    if url not in _sync_scripts:
        _sync_scripts[url] = _Scripts(clients.sync_client(url, **_client_options()))
    return _sync_scripts[url]


def async_scripts():
    """Scripts bound to an asyncio client owned by the running event loop, in the running task's lane."""
    lanes = _async_scripts.setdefault(asyncio.get_running_loop(), {})
    lane = LANE.get()
    entry = lanes.get(lane)
    if entry is None or entry[0] != settings.REDIS_URL:
        # A burst of players joining (each asks for the state) needs more
        # connections at once than the pool holds: a blocking pool makes them
        # wait for a free connection, where the default pool raises "Too many
        # connections" and the state endpoint answered 503 (docs/performance.md).
        client = clients.async_client(settings.REDIS_URL, POOL_WAIT_SECONDS, **_client_options(lane))
        entry = lanes[lane] = (settings.REDIS_URL, _Scripts(client))
    return entry[1]


def sync_client():
    return sync_scripts().client


def async_client():
    return async_scripts().client


async def close_async_client():
    """Close the running loop's client (before a test's loop goes away)."""
    for _, scripts in _async_scripts.pop(asyncio.get_running_loop(), {}).values():
        await scripts.client.aclose()


def reset_clients():
    """Forget cached clients (tests point REDIS_URL at a fresh server)."""
    for scripts in _sync_scripts.values():
        scripts.client.close()
    _sync_scripts.clear()
    _async_scripts.clear()


# -- sync API ---------------------------------------------------------------


@_storage
def meta(board):
    """The board's live metadata, initialising the state if it is missing."""
    try:
        return _parse_meta(sync_client().hmget(keys(board.slug)[1], META_FIELDS))
    except StateMissing:
        ensure(board)
        return _parse_meta(sync_client().hmget(keys(board.slug)[1], META_FIELDS))
    except REDIS_ERRORS as error:
        raise StateUnavailable(str(error)) from error


@_storage
def ensure(board):
    """Create the board's live state if Redis has none; True if this call did."""
    bits, version = keys(board.slug)
    try:
        scripts = sync_scripts()
        if scripts.client.exists(bits, version) == 2:
            return False
        args = _init_args(board, _initial_state(board))
        return scripts.init(keys=_script_keys(board.slug), args=args) == 1
    except REDIS_ERRORS as error:
        raise StateUnavailable(str(error)) from error


@_storage
def read(board):
    """The bitset and the metadata it reflects, read atomically."""
    bits_key, meta_key = keys(board.slug)
    for attempt in range(2):
        try:
            with sync_client().pipeline(transaction=True) as pipe:
                bits, values = pipe.get(bits_key).hmget(meta_key, META_FIELDS).execute()
            return bits, _parse_meta(values)
        except StateMissing:
            if attempt:
                raise
            ensure(board)
        except REDIS_ERRORS as error:
            raise StateUnavailable(str(error)) from error


@_storage
def apply(board, changes, authors=None, force=False):
    """Apply ``[(index, value), …]`` in order; see :class:`Applied`.

    ``authors`` (one :class:`Author` per change) is what the log records for
    each change that applies; ``force`` applies them even to a frozen board (a
    moderator's revert). A board with no live state is initialised first, so a
    change never lands on a board that recovery has not restored yet.
    """
    args = _apply_args(changes, authors, force)
    try:
        try:
            return _parse_applied(sync_scripts().apply(keys=_script_keys(board.slug), args=args))
        except StateMissing:
            ensure(board)
            return _parse_applied(sync_scripts().apply(keys=_script_keys(board.slug), args=args))
    except REDIS_ERRORS as error:
        raise StateUnavailable(str(error)) from error


@_storage
def replace(board, bits, reason="replaced", by="", expect=None):
    """Replace the whole bitset atomically under a new epoch; see :class:`Swapped`.

    The log records ``reason`` ("restored", "cleared", …), ``by`` whom, and
    the new bitset's digest, by which a replay finds the snapshot holding it.
    With ``expect`` (a Meta), only a board still at that epoch and version is
    replaced; otherwise :class:`StateMoved` is raised and nothing changes.
    """
    bits = bitset.mask_padding(bytes(bits), board.size)
    if len(bits) != bitset.byte_length(board.size):
        raise ValueError(
            f"{len(bits)} bytes given; a board of {board.size} boxes needs {bitset.byte_length(board.size)}"
        )
    ensure(board)
    log, max_entries, retention_ms = _changelog_args()
    guard = [expect.epoch, expect.version] if expect else ["", ""]
    args = [bits, new_epoch(), log, reason, bitset.digest(bits) if log else "", by, max_entries, retention_ms, *guard]
    try:
        reply = sync_scripts().replace(keys=_script_keys(board.slug), args=args)
    except REDIS_ERRORS as error:
        raise StateUnavailable(str(error)) from error
    if reply[0] == -3:
        raise StateMoved()
    if reply[0] < 0:
        raise StateMissing()
    return _parse_swapped(reply, bits)


def _parse_swapped(reply, new_bits):
    _, old_bits, size, frozen, old_epoch, old_version, old_count, epoch, version, count = reply
    old = _parse_meta([size, frozen, old_epoch, old_version, old_count])
    return Swapped(old_bits, old, new_bits, Meta(old.size, old.frozen, int(epoch), int(version), int(count)))


@_storage
def set_frozen(board, frozen):
    ensure(board)
    try:
        sync_scripts().freeze(keys=keys(board.slug), args=[int(frozen)])
    except REDIS_ERRORS as error:
        raise StateUnavailable(str(error)) from error


@_storage
def players(slug):
    """Players on a board right now, summed over every serving process."""
    try:
        entries = sync_client().hgetall(presence_key(slug))
    except REDIS_ERRORS as error:
        raise StateUnavailable(str(error)) from error
    return live_players(entries, time.time())


def live_players(entries, now):
    """The sum of a presence hash's fresh ``"<count> <unix time>"`` entries.

    Each process rewrites its entry every beacon; one older than three beacons
    belongs to a process that has stopped.
    """
    stale_after = 3 * settings.BOARD_BEACON_SECONDS
    total = 0
    for entry in entries.values():
        count, seen = entry.split()
        if now - float(seen) <= stale_after:
            total += int(count)
    return total


@_storage
def forget(board):
    """Delete every key of the board's slug: bits, meta, log, presence, tallies, snapshot turns (a deleted board)."""
    client = sync_client()
    try:
        doomed = list(client.scan_iter(match=f"{settings.REDIS_PREFIX}:{{{board.slug}}}:*", count=1000))
        if doomed:
            client.delete(*doomed)
    except REDIS_ERRORS as error:
        raise StateUnavailable(str(error)) from error


# -- async API --------------------------------------------------------------


@_storage
async def ameta(board):
    meta_key = keys(board.slug)[1]
    try:
        return _parse_meta(await async_client().hmget(meta_key, META_FIELDS))
    except StateMissing:
        await aensure(board)
        return _parse_meta(await async_client().hmget(meta_key, META_FIELDS))
    except REDIS_ERRORS as error:
        raise StateUnavailable(str(error)) from error


@_storage
async def aensure(board):
    try:
        scripts = async_scripts()
        if await scripts.client.exists(*keys(board.slug)) == 2:
            return False
        initial = await sync_to_async(_initial_state)(board)
        return await scripts.init(keys=_script_keys(board.slug), args=_init_args(board, initial)) == 1
    except REDIS_ERRORS as error:
        raise StateUnavailable(str(error)) from error


@_storage
async def aread(board):
    bits_key, meta_key = keys(board.slug)
    for attempt in range(2):
        try:
            async with async_client().pipeline(transaction=True) as pipe:
                bits, values = await pipe.get(bits_key).hmget(meta_key, META_FIELDS).execute()
            return bits, _parse_meta(values)
        except StateMissing:
            if attempt:
                raise
            await aensure(board)
        except REDIS_ERRORS as error:
            raise StateUnavailable(str(error)) from error


@_storage
async def aapply(board, changes, authors=None):
    args = _apply_args(changes, authors)
    try:
        try:
            started = time.perf_counter()
            try:
                reply = await async_scripts().apply(keys=_script_keys(board.slug), args=args)
            finally:
                # Refusals and failures too: a Redis that takes long to say no is slow.
                metrics.LUA_SECONDS.observe(time.perf_counter() - started)
            return _parse_applied(reply)
        except StateMissing:
            await aensure(board)
            return _parse_applied(await async_scripts().apply(keys=_script_keys(board.slug), args=args))
    except REDIS_ERRORS as error:
        raise StateUnavailable(str(error)) from error


async def arun_id(slug):
    """The ``run_id`` of the Redis server holding the board: on a cluster, its slot's primary.

    It changes when that server restarts, and on a cluster also when a replica
    is promoted in its place, which may likewise lack the last changes.
    """
    client = async_client()
    node = clients.node_of(client, keys(slug)[1])
    info = await (client.info("server") if node is None else client.info("server", target_nodes=node))
    return info.get("run_id")
