"""
Abuse limits: how fast one socket, and one network, may change boxes, and how
many sockets one network may hold open (docs/protocol.md, "Limits").

- Change limits are token buckets: a bucket holds up to ``capacity`` changes
  and refills at ``rate`` a second. A person clicking as fast as they can for
  a few seconds draws on the burst and is never refused; a bot's sustained
  rate empties it and is then held to the refill rate.
- A socket's own bucket lives in its process (a socket never moves), so it is
  exact and costs nothing to check.
- A network's bucket is shared by every process, so it lives in Redis.
  Checks waiting at the same moment go to Redis together in one Lua call: the
  cost is one round trip per batch, not per change.
- A network's open sockets are counted per process in Redis. Each process
  writes its own counts (which it knows exactly) and refreshes their expiry
  from the hub beacon, so the counts of a killed process expire on their own.

A refused change is told how long to wait: the milliseconds until its bucket
holds a whole change again.

Every Redis key here shares the hash tag ``{limits}``, so each script touches
one slot even on a Redis Cluster.

A network is None when the server could not tell the client's address; such a
socket gets only its own limits.
"""

import asyncio
import logging
import math
import secrets
import weakref
from collections import deque

import redis
from django.conf import settings

from ..store import state

logger = logging.getLogger(__name__)

# KEYS: one bucket hash per change (a network may repeat). ARGV: capacity, refill per second.
# Returns 0 (taken) or the milliseconds until the bucket holds a change (refused), per change in order.
# The bucket expires once it would be full again: a missing one is a full one.
CHANGES_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local capacity, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local ttl = math.ceil(capacity / rate * 1000) + 1000
local out = {}
for k = 1, #KEYS do
  local f = redis.call('HMGET', KEYS[k], 't', 'at')
  local tokens, at = tonumber(f[1]), tonumber(f[2])
  if tokens == nil or at == nil then
    tokens = capacity
  else
    tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
  end
  if tokens >= 1 then
    tokens = tokens - 1
    out[k] = 0
  else
    out[k] = math.max(1, math.ceil((1 - tokens) / rate * 1000))
  end
  -- tostring keeps 14 significant digits: a tenth of a millisecond of the clock.
  redis.call('HSET', KEYS[k], 't', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[k], ttl)
end
return out
"""

# Sliding-window counter, for socket openings: the previous fixed window's
# count, weighted by how much of it still overlaps the sliding window, plus the
# current one's. It assumes the previous window's changes were spread evenly
# (Cloudflare's approximation): exact enough for abuse limits, and three hash
# fields a window.
WINDOW_LUA = """
local function take(key, now, limits, always)
  local updates, room = {}, true
  for r = 1, #limits, 2 do
    local limit, span = limits[r], limits[r + 1]
    local window = math.floor(now / span)
    local f = redis.call('HMGET', key, 'w' .. span, 'n' .. span, 'p' .. span)
    local w, n, p = tonumber(f[1]), tonumber(f[2]) or 0, tonumber(f[3]) or 0
    if w ~= window then
      if w == window - 1 then p = n else p = 0 end
      n = 0
    end
    if p * (1 - (now - window * span) / span) + n + 1 > limit then room = false end
    updates[#updates + 1] = {span, window, n + 1, p}
  end
  if room or always then
    for _, u in ipairs(updates) do
      redis.call('HSET', key, 'w' .. u[1], u[2], 'n' .. u[1], u[3], 'p' .. u[1], u[4])
    end
    redis.call('EXPIRE', key, 2 * limits[#limits])
  end
  return room
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
"""

# KEYS: the network's openings window, the set of process ledgers, this process's ledger.
# ARGV: network, max sockets, openings per minute, ledger ttl.
# Returns 0 (counted), 1 (too many sockets) or 2 (opening too often). The count
# and the increment are one step, so sockets opening together are each counted.
OPEN_LUA = (
    WINDOW_LUA
    + """
local network = ARGV[1]
local max_sockets, per_minute = tonumber(ARGV[2]), tonumber(ARGV[3])
if per_minute > 0 and not take(KEYS[1], now, {per_minute, 60}, true) then return 2 end
if max_sockets > 0 then
  local total = 0
  for _, ledger in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    if redis.call('EXISTS', ledger) == 0 then
      redis.call('SREM', KEYS[2], ledger)
    else
      total = total + (tonumber(redis.call('HGET', ledger, network)) or 0)
    end
  end
  if total >= max_sockets then return 1 end
end
redis.call('HINCRBY', KEYS[3], network, 1)
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('SADD', KEYS[2], KEYS[3])
return 0
"""
)

# KEYS: this process's ledger. ARGV: network. One socket of the network closed.
CLOSE_LUA = """
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
"""

OPENED = 0
TOO_MANY_SOCKETS = 1
OPENING_TOO_OFTEN = 2

_scripts = weakref.WeakKeyDictionary()
_per_loop = weakref.WeakKeyDictionary()


def key(*parts):
    return ":".join((settings.REDIS_PREFIX, "{limits}", *parts))


def _script(name, source):
    client = state.async_client()
    scripts = _scripts.setdefault(client, {})
    if name not in scripts:
        scripts[name] = client.register_script(source)
    return scripts[name]


def _loop_local(cls):
    """The running event loop's instance of ``cls`` (one per process in production, per test in tests)."""
    instances = _per_loop.setdefault(asyncio.get_running_loop(), {})
    if cls not in instances:
        instances[cls] = cls()
    return instances[cls]


class ChangeBucket:
    """One socket's changes, checked against ``BOARD_CHANGE_BUCKET`` (capacity, refill per second).

    Two floats a socket, however busy; ``bucket`` None means no limit.
    """

    __slots__ = ("bucket", "tokens", "at")

    def __init__(self, bucket):
        self.bucket = bucket
        self.tokens = None if bucket is None else float(bucket[0])
        self.at = None

    def wait(self, now):
        """Milliseconds until a change would be allowed: 0 when one may be taken now."""
        if self.bucket is None:
            return 0
        tokens = self._refilled(now)
        if tokens >= 1:
            return 0
        return max(1, math.ceil((1 - tokens) / self.bucket[1] * 1000))

    def take(self, now):
        if self.bucket is None:
            return
        self.tokens = self._refilled(now) - 1
        self.at = now

    def _refilled(self, now):
        if self.at is None:
            return self.tokens
        capacity, rate = self.bucket
        return min(capacity, self.tokens + max(0.0, now - self.at) * rate)


class Strikes:
    """Events in the last minute: bad frames, or changes refused for the rate (none until the first)."""

    __slots__ = ("times",)

    def __init__(self):
        self.times = ()

    def add(self, now):
        if not isinstance(self.times, deque):
            self.times = deque()
        self.times.append(now)
        while self.times and now - self.times[0] > 60:
            self.times.popleft()
        return len(self.times)


class Windows:
    """Events per fixed window, for each ``(count, seconds)`` rate: O(1) memory however busy.

    For frames of every kind, where a sliding window's timestamps would cost
    every active socket kilobytes. :meth:`take` counts the event and says
    whether every window still had room for it.
    """

    __slots__ = ("rates", "counts")

    def __init__(self, rates):
        self.rates = rates
        self.counts = [[0, 0] for _ in rates]  # per rate: window number, events in it

    def take(self, now):
        room = True
        for (limit, seconds), window in zip(self.rates, self.counts, strict=True):
            number = int(now // seconds)
            if window[0] != number:
                window[0], window[1] = number, 0
            window[1] += 1
            if window[1] > limit:
                room = False
        return room


class NetworkBudget:
    """Changes per network, shared by every process through Redis.

    Checks that arrive while a call is out are sent together in the next one,
    so under load one round trip answers a whole batch.
    """

    def __init__(self, bucket="BOARD_NETWORK_CHANGE_BUCKET"):
        self.bucket = bucket  # the setting's name: tests change settings as they go
        self._waiting = []
        self._task = None

    async def wait(self, network):
        """Milliseconds until ``network`` may change a box: 0 when this change is allowed (and counted)."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((network, future))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())
        return await future

    async def _run(self):
        batch = []
        try:
            while self._waiting:
                size = settings.BOARD_MAX_BATCH
                batch, self._waiting = self._waiting[:size], self._waiting[size:]
                verdicts = await self._check([network for network, _ in batch])
                for (_, future), verdict in zip(batch, verdicts, strict=True):
                    if not future.done():
                        future.set_result(int(verdict))
        except Exception:
            logger.exception("The network rate limit failed; letting its waiting changes through")
        finally:
            # Cancelled, or failed in a way _check did not foresee: no socket
            # may wait for ever on a verdict.
            for _, future in batch + self._waiting:
                if not future.done():
                    future.set_result(0)

    async def _check(self, networks):
        script = _script("changes", CHANGES_LUA)
        keys = [key("changes", str(network)) for network in networks]
        try:
            return await script(keys=keys, args=list(getattr(settings, self.bucket)))
        except state.TRANSIENT_ERRORS:
            # Without Redis no change can be applied anyway; the writer refuses
            # them as UNAVAILABLE, which says more than "slow down" would.
            return [0] * len(networks)
        except redis.RedisError:
            # A limiter that fails must not leave sockets waiting forever, nor
            # stop the board: let the changes through and say so.
            logger.exception("The network rate limit failed; letting %d changes through", len(networks))
            return [0] * len(networks)


class SocketLedger:
    """This process's open sockets per network, mirrored into Redis for every other process to count."""

    def __init__(self):
        self.counts = {}
        self.name = key("sockets", secrets.token_hex(8))
        # Set when Redis missed a change to the counts: the next heartbeat
        # rewrites them whole.
        self.dirty = False

    async def open(self, network, wide=None):
        """Count a new socket of ``network`` (and of its ``wide`` network); OPENED, or why it may not open."""
        per_minute = settings.BOARD_NEW_SOCKETS_PER_MINUTE
        verdict = await self._open(network, settings.BOARD_MAX_SOCKETS_PER_NETWORK, per_minute)
        if verdict != OPENED or wide is None:
            return verdict
        verdict = await self._open(wide, settings.BOARD_MAX_SOCKETS_PER_WIDE_NETWORK, 0)
        if verdict != OPENED:
            await self.close(network)
        return verdict

    async def _open(self, network, max_sockets, per_minute):
        if network is None or not (max_sockets or per_minute):
            return OPENED
        name = str(network)
        args = [name, max_sockets, per_minute, self.ttl()]
        try:
            verdict = await _script("open", OPEN_LUA)(keys=[key("opened", name), key("ledgers"), self.name], args=args)
        except state.TRANSIENT_ERRORS as error:
            # A socket is not refused because the limiter's store failed: it is
            # refused with 4503 right after if the board's state can't be read
            # either. The next heartbeat writes the counts whole.
            logger.warning("The socket limit could not be checked; letting a socket of %s open: %s", name, error)
            self.dirty = True
            verdict = OPENED
        if verdict == OPENED:
            self.counts[name] = self.counts.get(name, 0) + 1
        return verdict

    async def close(self, network):
        name = str(network)
        if name not in self.counts:
            return
        count = self.counts[name] - 1
        if count > 0:
            self.counts[name] = count
        else:
            del self.counts[name]
        try:
            await _script("close", CLOSE_LUA)(keys=[self.name], args=[name])
        except state.TRANSIENT_ERRORS:
            self.dirty = True

    async def heartbeat(self):
        """Keep this process's counts alive in Redis, and write them whole after an outage.

        A ledger that expired (Redis restarted empty, or this process stalled
        past the ttl) is written again from the counts this process holds.
        """
        if not self.counts and not self.dirty:
            return
        if not self.dirty and await state.async_client().expire(self.name, self.ttl()):
            return
        async with state.async_client().pipeline(transaction=True) as pipe:
            pipe.delete(self.name)
            if self.counts:
                pipe.hset(self.name, mapping=self.counts)
                pipe.expire(self.name, self.ttl())
                pipe.sadd(key("ledgers"), self.name)
            await pipe.execute()
        self.dirty = False

    @staticmethod
    def ttl():
        return 3 * settings.BOARD_BEACON_SECONDS


class WideNetworkBudget(NetworkBudget):
    """Changes per wide IPv6 network (a /48): every /64 in it shares this looser budget too."""

    def __init__(self):
        super().__init__("BOARD_WIDE_NETWORK_CHANGE_BUCKET")


def budget():
    return _loop_local(NetworkBudget)


def wide_budget():
    return _loop_local(WideNetworkBudget)


def ledger():
    return _loop_local(SocketLedger)
