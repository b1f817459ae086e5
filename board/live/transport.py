"""
Writing server frames straight to daphne's sockets (docs/performance.md, "Profiles").

Under load a serving process spends its time sending the same UPDATE frame to
every socket. Through the ASGI ``send`` path each of those sends costs daphne's
``handle_reply``, autobahn framing the message again, and Twisted queueing the
bytes and registering the socket with the selector (two ``epoll_ctl`` calls)
until the next loop turn: together most of a busy process's CPU in the
profiles. A server-to-client frame is not masked, so its bytes are the same for
every socket: the hub frames each UPDATE once per tick, and :class:`DirectWriter`
hands those bytes to the kernel with one ``send()``.

Order on the wire is kept: when autobahn or Twisted still hold unsent bytes for
the connection, the frame goes through Twisted's own buffered write behind them;
whatever the kernel doesn't take is queued there too.

Only daphne over plain TCP gets a writer. Anything else (TLS, another ASGI
server, Channels' test communicator) gets None and keeps using ``send``.
"""

import functools
import logging

logger = logging.getLogger(__name__)


def frame(payload, binary=True):
    """A complete, unmasked WebSocket message frame (RFC 6455 §5.2) for ``payload``."""
    if isinstance(payload, str):
        payload, binary = payload.encode(), False
    head = 0x82 if binary else 0x81
    size = len(payload)
    if size < 126:
        return bytes((head, size)) + payload
    if size < 1 << 16:
        return bytes((head, 126)) + size.to_bytes(2, "big") + payload
    return bytes((head, 127)) + size.to_bytes(8, "big") + payload


class DirectWriter:
    """Sends prebuilt frames on one daphne WebSocket connection."""

    def __init__(self, protocol):
        self.protocol = protocol
        self.transport = protocol.transport

    def write(self, data):
        """Send ``data`` (a whole frame); False if it must go through ASGI ``send`` instead."""
        protocol, transport = self.protocol, self.transport
        if protocol.state != protocol.STATE_OPEN or protocol.send_queue:
            # Closing, or autobahn holds frames back: let it keep the order.
            return False
        if not transport.connected or transport.disconnecting:
            return True  # daphne drops sends to a closed socket too
        if transport._tempDataBuffer or transport.offset < len(transport.dataBuffer):
            transport.write(data)
            return True
        try:
            sent = transport.socket.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            # Let Twisted meet the error on its own write and close the connection its way.
            sent = 0
        if sent < len(data):
            transport.write(data[sent:])
        return True

    def queued_bytes(self):
        """Bytes written to this connection that the kernel has not taken yet (Twisted's buffer)."""
        transport = self.transport
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen

    def abort(self):
        """Drop the connection now, discarding what is buffered for it."""
        self.transport.abortConnection()

    def stop_reading(self):
        """Read no more from this connection: its close is sent, and what it still sends is not parsed.

        autobahn drops the connection when the close handshake times out
        (daphne keeps its default of 1 s).
        """
        self.protocol.read_stopped = True
        self.transport.stopReading()


def direct_writer(send):
    """A :class:`DirectWriter` for the connection behind daphne's ASGI ``send``, or None.

    daphne passes ``functools.partial(server.handle_reply, protocol)`` as ``send``;
    everything here checks that shape rather than assuming it. Each reason for
    None is logged once per process, at its first socket.
    """
    reason = _unusable(send)
    if reason:
        _log_fallback(reason)
        return None
    return DirectWriter(send.args[0])


def _unusable(send):
    """Why ``send`` has no socket to write to directly, or None when it has."""
    if not isinstance(send, functools.partial) or not send.args:
        return "not served by daphne"
    protocol = send.args[0]
    transport = getattr(protocol, "transport", None)
    if getattr(transport, "TLS", False):
        return "daphne terminates TLS"
    needed = (
        "socket",
        "connected",
        "disconnecting",
        "dataBuffer",
        "offset",
        "_tempDataBuffer",
        "_tempDataLen",
        "stopReading",
    )
    if getattr(transport, "TLS", None) is not False or not all(hasattr(transport, a) for a in needed):
        return "the connection is not Twisted's TCP transport as pinned in requirements.txt"
    if not all(hasattr(protocol, name) for name in ("state", "STATE_OPEN", "send_queue")):
        return "the protocol is not autobahn's as pinned in requirements.txt"
    return None


@functools.cache
def _log_fallback(reason):
    logger.warning("Server frames go through ASGI send, not straight to the socket: %s.", reason)
