"""
Prometheus metrics of one serving process (docs/operations.md, "Metrics").

Everything here lives in the process's memory: a hook on the hot path is an
attribute lookup and an ``inc()``, never a Redis call, and the hub counts per
batch or per tick rather than per change or per socket where it can. Each
daphne process answers ``/metrics`` for itself (board/asgi.py); Prometheus
scrapes every process's port and adds them up.

Labels stay bounded: a board's slug, an outcome or close code from the
protocol's own lists, an exception class. Never an address or a network.

``METRICS_ENABLED=0`` (for the benchmark that measures what metrics cost,
docs/performance.md) turns every metric below into a no-op (:func:`configure`).
"""

import ipaddress
import sys
import time

import prometheus_client
from prometheus_client.core import GaugeMetricFamily

REGISTRY = prometheus_client.CollectorRegistry()
PREFIX = "checkboxes"

# Sizes of batches (changes per Lua call) and seconds, for the histograms.
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)

# Close codes counted by name; any other code a client sends is "other", so a
# client cannot add labels.
CLOSE_CODES = frozenset(
    {1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1011, 4400, 4403, 4404, 4408, 4410, 4429, 4503}
)


def _counter(name, documentation, labels=()):
    return prometheus_client.Counter(f"{PREFIX}_{name}", documentation, labels, registry=REGISTRY)


def _gauge(name, documentation, labels=()):
    return prometheus_client.Gauge(f"{PREFIX}_{name}", documentation, labels, registry=REGISTRY)


def _histogram(name, documentation, buckets):
    return prometheus_client.Histogram(f"{PREFIX}_{name}", documentation, buckets=buckets, registry=REGISTRY)


SOCKETS = _gauge("sockets", "Sockets open on a board in this process.", ["board"])
JOINS = _counter("joins", "Sockets that joined a board (were sent its hello).", ["board"])
CLOSES = _counter("closes", "Sockets that ended, by WebSocket close code (1006: dropped).", ["code"])
CHANGES = _counter("changes", "Changes asked for, by outcome (the statuses of docs/protocol.md).", ["board", "outcome"])
BAD_FRAMES = _counter("bad_frames", "Frames refused as malformed or unexpected, by error code.", ["code"])
BATCH_SIZE = _histogram("batch_size", "Changes the writer sent to Redis together, in one Lua call.", BATCH_BUCKETS)
LUA_SECONDS = _histogram(
    "lua_apply_seconds", "Wall time of one Lua call applying a batch (refused too).", SECONDS_BUCKETS
)
TICK_SECONDS = _histogram("fanout_tick_seconds", "Wall time of one fan-out tick of a board.", SECONDS_BUCKETS)
UPDATE_FRAMES = _counter("update_frames", "UPDATE frames the fan-out handed to sockets (lagging ones skip them).")
LAGGING = _counter("lagging_sockets", "Times a socket fell too many frames behind and was paused.")
HELD = _counter("held_sockets", "Times a socket stopped being read: 64 of its frames were not yet taken by the board.")
DOOR_SHUTS = _counter(
    "door_shuts", "Times this process shut its door to a network it kept refusing (board/live/gate.py)."
)
TURNED_AWAY = _counter(
    "door_turned_away", "TCP connections this process closed as it accepted them: their network's door was shut."
)
DROPPED = _counter("dropped_sockets", "Sockets aborted for leaving too many bytes unread.")
STATE_REQUESTS = _counter("state_requests", "GET and HEAD of a board's state, by status.", ["status"])
STATE_BYTES = _counter("state_bytes", "Body bytes sent for a board's state.")
CHANNEL_MESSAGES = _counter(
    "channel_messages", "Channel-layer messages, sent (published) and received, by type.", ["direction", "type"]
)
CHANNEL_FAILURES = _counter("channel_publish_failures", "Batches that could not be published to other processes.")
RESUBSCRIPTIONS = _counter("channel_resubscriptions", "Times a hub subscribed again after its first subscription.")
REDIS_ERRORS = _counter(
    "redis_errors", "Redis errors by kind: an error reply's prefix (OOM, MISCONF, …) or the exception class.", ["kind"]
)

# The newest snapshot of each board, as a Unix time, seen by this process.
_newest_snapshots = {}


class SnapshotAge:
    """``checkboxes_snapshot_age_seconds``: computed when scraped, from the newest snapshot's time."""

    def collect(self):
        family = GaugeMetricFamily(
            f"{PREFIX}_snapshot_age_seconds", "Seconds since the board's newest snapshot.", labels=["board"]
        )
        now = time.time()
        for slug, taken in sorted(_newest_snapshots.items()):
            family.add_metric([slug], max(0.0, now - taken))
        yield family


REGISTRY.register(SnapshotAge())


def snapshot_seen(slug, timestamp):
    """Record the Unix time of ``slug``'s newest snapshot (None: it has none)."""
    if timestamp is None:
        _newest_snapshots.pop(slug, None)
    else:
        _newest_snapshots[slug] = timestamp


def close_code(code):
    """The label for a close code: the code, or "other" for one outside :data:`CLOSE_CODES`."""
    return str(code) if code in CLOSE_CODES else "other"


def redis_error(error):
    """Count ``error`` once, however many layers see it (or a domain error raised from it) go by."""
    root = error.__cause__ if error.__cause__ is not None else error
    if getattr(root, "_checkboxes_counted", False):
        return
    root._checkboxes_counted = True
    REDIS_ERRORS.labels(redis_error_kind(root)).inc()


def redis_error_kind(error):
    """OOM, READONLY, MISCONF, … for an error reply; the exception's class otherwise."""
    name = type(error).__name__
    if name == "OutOfMemoryError":
        return "OOM"
    if name == "ReadOnlyError":
        return "READONLY"
    if name == "ResponseError":
        prefix = str(error).split(" ", 1)[0]
        return prefix if prefix.isupper() and prefix.isalpha() and len(prefix) <= 16 else name
    return name


# -- the endpoint -----------------------------------------------------------


def allowed(client, headers, networks, token):
    """Whether a request for /metrics may be answered.

    ``client`` is the TCP peer's address. A request with ``Authorization:
    Bearer <token>`` is allowed when a token is set; otherwise the peer must be
    in ``networks`` and the request must not have come through a proxy (an
    ``X-Forwarded-For`` or ``Forwarded`` header): behind nginx on the same
    machine every peer is 127.0.0.1, so a proxied request needs the token.
    """
    if token and _bearer(headers) == token:
        return True
    if any(name in (b"x-forwarded-for", b"forwarded") for name, _ in headers):
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def _bearer(headers):
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            return credentials.strip() if scheme.lower() == "bearer" else None
    return None


def exposition():
    """The text of every metric, and its content type."""
    return prometheus_client.generate_latest(REGISTRY), prometheus_client.CONTENT_TYPE_LATEST


# -- off, for the benchmark ---------------------------------------------------


class _Off:
    """Takes every call a metric takes, and does nothing."""

    def labels(self, *args, **kwargs):
        return self

    def inc(self, amount=1):
        pass

    def dec(self, amount=1):
        pass

    def set(self, value):
        pass

    def observe(self, value):
        pass


METRICS = ("SOCKETS", "JOINS", "CLOSES", "CHANGES", "BAD_FRAMES", "BATCH_SIZE", "LUA_SECONDS", "TICK_SECONDS")
METRICS += ("UPDATE_FRAMES", "LAGGING", "DROPPED", "STATE_REQUESTS", "STATE_BYTES", "CHANNEL_MESSAGES")
METRICS += ("CHANNEL_FAILURES", "RESUBSCRIPTIONS", "REDIS_ERRORS")


def configure(enabled):
    """With ``enabled`` False, every metric becomes a no-op (called once, when the app is ready)."""
    if enabled:
        return
    module = sys.modules[__name__]
    for name in METRICS:
        setattr(module, name, _Off())
