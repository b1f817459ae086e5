"""The door of one process: a network refused again and again is turned away at TCP accept.

Every refusal the application makes (a handshake refused for its Origin or
path, a socket refused for its network's limits, a socket closed 4429, 4400
or 4408, a state request answered 429) costs daphne a whole HTTP request or
WebSocket handshake, about a millisecond of CPU, whatever the application
does with it (docs/reliability.md, "The hostile benchmark"). A network whose
connections this process refused ``BOARD_BOX_REFUSALS`` times within
``WINDOW_SECONDS`` has every new TCP connection closed as it is accepted, for
``BOARD_BOX_SECONDS``: no request is parsed, no protocol built. Only the
process that saw the refusals shuts its door; the counts live in its memory.

A network shut out again within ``REMEMBER_SECONDS`` of its door reopening is
shut out for twice as long as the time before, up to ``BOARD_BOX_MAX_SECONDS``:
a bot that comes back as soon as the door opens costs the process its 20
refusals once in ten minutes, not once in 30 s. A network that stays quiet
for ``REMEMBER_SECONDS`` after reopening starts again from ``BOARD_BOX_SECONDS``.

The door sees the TCP peer only, so a peer in ``TRUSTED_PROXIES`` (the proxy
in front) is never shut out: the proxy limits its own clients (deploy/nginx).
"""

import logging
import time

from django.conf import settings

from board import metrics
from board.live import network

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 10
# How long a reopened door remembers that it was shut, for the next shut to be longer.
REMEMBER_SECONDS = 600
# Networks remembered at once; past it the oldest entries are forgotten.
MAX_NETWORKS = 10_000


class Door:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.refusals = {}  # network -> (window start, refusals in it)
        # network -> (seconds of its last shut, monotonic time it opens again),
        # kept REMEMBER_SECONDS past the opening for the next shut to be longer.
        self.shut = {}

    def refused(self, scope):
        """Count a refusal of the connection in ``scope`` against its TCP peer's network."""
        limit = settings.BOARD_BOX_REFUSALS
        client = scope.get("client")
        if not limit or not client:
            return
        peer = network.parse_address(client[0])
        if peer is None or network.is_trusted_proxy(peer):
            return
        key = network.network_of(peer)
        now = self.clock()
        start, count = self.refusals.get(key, (now, 0))
        if now - start > WINDOW_SECONDS:
            start, count = now, 0
        count += 1
        self.refusals[key] = (start, count)
        if count >= limit:
            del self.refusals[key]
            seconds = self._shut_seconds(key, now)
            self.shut[key] = (seconds, now + seconds)
            metrics.DOOR_SHUTS.inc()
            logger.warning(
                "Shut the door to %s for %d s: refused %d times in %d s.",
                key,
                seconds,
                count,
                WINDOW_SECONDS,
                extra={"network": str(key), "throttle": "door_shut"},
            )
        self._bound()

    def _shut_seconds(self, key, now):
        first = settings.BOARD_BOX_SECONDS
        seconds, ended = self.shut.get(key, (0, None))
        if ended is None or now - ended > REMEMBER_SECONDS:
            return first
        return max(first, min(2 * seconds, settings.BOARD_BOX_MAX_SECONDS))

    def turns_away(self, host):
        """Whether a TCP connection from ``host`` (the peer's address as text) is closed at once."""
        if not self.shut:
            return False
        peer = network.parse_address(host)
        if peer is None:
            return False
        key = network.network_of(peer)
        _, until = self.shut.get(key, (0, None))
        if until is None:
            return False
        now = self.clock()
        if now < until:
            metrics.TURNED_AWAY.inc()
            return True
        if now - until > REMEMBER_SECONDS:
            del self.shut[key]
        return False

    def _bound(self):
        for table in (self.refusals, self.shut):
            if len(table) > MAX_NETWORKS:
                for key in list(table)[: len(table) - MAX_NETWORKS // 2]:
                    del table[key]


door = Door()
