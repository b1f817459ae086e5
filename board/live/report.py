"""
What each serving process is doing, for the staff's live page (admin "Live").

Each hub keeps its board's figures in memory (a counter and a maximum on the
hot path, nothing more) and its beacon writes them into its process's report:
a hash in Redis per process, one field per board, that expires three beacons
after the last write. A process that stops, or dies, drops off the page by
itself. A sorted set lists the processes by when they last reported, so the
page finds them without scanning keys.
"""

import json
import socket
import time

from django.conf import settings

from ..store import state

# When this process started serving, near enough: when the live room was imported.
STARTED = time.time()


def _report_key(process):
    return f"{settings.REDIS_PREFIX}:{{live}}:process:{process}"


def _processes_key():
    return f"{settings.REDIS_PREFIX}:{{live}}:processes"


def _stale_after():
    return 3 * settings.BOARD_BEACON_SECONDS


class Report:
    """One hub's figures since its last report: changes applied and the longest fan-out lag."""

    def __init__(self, slug):
        self.slug = slug
        self.changes = 0
        self.lag = 0.0
        self._since = time.monotonic()

    def applied(self, changes):
        self.changes += changes

    def fanned_out(self, seconds):
        """One tick's lag: from the oldest batch it carried arriving to its frames being written."""
        if seconds > self.lag:
            self.lag = seconds

    async def write(self, process, sockets):
        """Add this board's figures to the process's report; they count afresh from here."""
        now, started = time.time(), time.monotonic()
        changes, lag, seconds = self.changes, self.lag, started - self._since
        figures = {"sockets": sockets, "changes": changes, "seconds": round(seconds, 3), "lag": lag, "at": now}
        key, stale_after = _report_key(process), _stale_after()
        async with state.async_client().pipeline(transaction=False) as pipe:
            fields = {"started": STARTED, "host": socket.gethostname(), f"board {self.slug}": json.dumps(figures)}
            pipe.hset(key, mapping=fields)
            pipe.expire(key, stale_after)
            pipe.zadd(_processes_key(), {process: now})
            pipe.zremrangebyscore(_processes_key(), "-inf", now - stale_after)
            pipe.expire(_processes_key(), stale_after)
            await pipe.execute()
        # Changes applied while the report was written count towards the next one.
        self.changes -= changes
        self.lag = 0.0
        self._since = started


def processes(now=None):
    """The reports of the processes that reported in the last three beacons, by process id.

    Each is ``{"process", "host", "started", "boards": {slug: figures}}``,
    where figures are ``sockets``, ``changes`` (applied over the last
    ``seconds``), ``lag`` (the longest fan-out tick then, in seconds) and
    ``at`` (Unix time). A board whose hub stopped reporting is left out.
    """
    now = now or time.time()
    stale = now - _stale_after()
    try:
        client = state.sync_client()
        ids = client.zrangebyscore(_processes_key(), stale, "+inf")
        with client.pipeline(transaction=False) as pipe:
            for process in ids:
                pipe.hgetall(_report_key(process.decode()))
            hashes = pipe.execute()
    except state.REDIS_ERRORS as error:
        raise state.StateUnavailable(str(error)) from error
    found = [_parse(process.decode(), fields, stale) for process, fields in zip(ids, hashes, strict=True) if fields]
    return sorted(found, key=lambda report: report["process"])


def _parse(process, fields, stale):
    report = {"process": process, "host": "", "started": None, "boards": {}}
    for name, value in fields.items():
        name = name.decode()
        if name == "started":
            report["started"] = float(value)
        elif name == "host":
            report["host"] = value.decode()
        elif name.startswith("board "):
            figures = json.loads(value)
            if figures["at"] >= stale:
                report["boards"][name.removeprefix("board ")] = figures
    return report
