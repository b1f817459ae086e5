"""daphne, with the process's door (board/live/gate.py) at TCP accept, and back-pressure on sockets.

``manage.py serve`` runs ``python -m board.management.daphne_door`` with daphne's own
arguments.

- A connection from a network the door has shut is closed by Twisted as soon
  as it is accepted (a factory's ``buildProtocol`` returning None), before
  daphne builds a protocol or reads a byte of it.
- A WebSocket whose frames the application has not taken yet stops being read
  (:class:`HeldWebSocketProtocol`). daphne parses whatever a socket sends and
  queues it for the application without bound: a ping flood of 22-byte frames
  was 3,000 frames parsed per 64 KB read, each loop turn, while its consumer took
  one frame a turn and had not yet reached the frame limit that closes it.
  That was most of both processes' CPU for 10 s at the start of the hostile
  benchmark, and tens of MB of queued frames (docs/reliability.md).
"""

from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import reactor

from board import metrics
from board.live.gate import door

# Frames queued for the application at which a socket stops being read, and
# at which it is read again. A player sends a frame every few seconds.
HELD_AT = 64
RELEASED_AT = 16
HOLD_CHECK_SECONDS = 0.01


class HeldWebSocketProtocol(WebSocketProtocol):
    held = False
    # Set by board/live/transport.py once a socket is closed for abuse: never read again.
    read_stopped = False

    def onMessage(self, payload, isBinary):
        super().onMessage(payload, isBinary)
        queue = getattr(self, "application_queue", None)
        if not self.held and queue is not None and queue.qsize() >= HELD_AT:
            self.held = True
            metrics.HELD.inc()
            self.transport.pauseProducing()
            reactor.callLater(HOLD_CHECK_SECONDS, self._release_when_taken)

    def _release_when_taken(self):
        if self.state == self.STATE_CLOSED or self.read_stopped:
            return
        if self.application_queue.qsize() > RELEASED_AT:
            reactor.callLater(HOLD_CHECK_SECONDS, self._release_when_taken)
            return
        self.held = False
        self.transport.resumeProducing()


class DoorServer(Server):
    @property
    def ws_factory(self):
        return self._ws_factory

    @ws_factory.setter
    def ws_factory(self, factory):
        factory.protocol = HeldWebSocketProtocol
        self._ws_factory = factory

    # daphne makes its HTTP factory inside run(); the door wraps it as it is set.
    @property
    def http_factory(self):
        return self._http_factory

    @http_factory.setter
    def http_factory(self, factory):
        build = factory.buildProtocol

        def build_unless_shut(address):
            if door.turns_away(address.host):
                return None
            return build(address)

        factory.buildProtocol = build_unless_shut
        self._http_factory = factory


class DoorCommandLine(CommandLineInterface):
    server_class = DoorServer


if __name__ == "__main__":
    DoorCommandLine.entrypoint()
