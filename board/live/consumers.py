import logging
import secrets
import time
from collections import deque

from autobahn.exception import Disconnected
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from .. import metrics
from ..store import state
from ..store.state import Status
from . import bans, limits, network, protocol, transport
from .gate import door
from .hub import hub_for
from .protocol import Ack, FrameError, Ping, SetBox

logger = logging.getLogger(__name__)

BOARD_NOT_FOUND = ("board_not_found", "There is no board at this address.")
UNAVAILABLE = ("unavailable", "The board's storage is unreachable; retry soon.")
BOARD_DELETED = ("board_deleted", "This board was deleted by its moderators.")
SOCKET_REFUSALS = {
    limits.TOO_MANY_SOCKETS: ("too_many_sockets", "Too many open boards from your network; close some and retry."),
    limits.OPENING_TOO_OFTEN: ("opening_too_often", "Your network is connecting too often; wait a minute."),
}
# Why a socket that keeps sending refused changes is closed (4429).
STRIKE_CLOSES = {
    Status.RATE_LIMITED: ("rate_limited", "Too many changes while told to slow down; disconnected."),
    Status.BANNED: ("banned", "Your network is banned from changing boxes; disconnected."),
}
# Closes that say a client misbehaved, logged (throttled, board/logs.py) with their reason.
ABUSE_CLOSES = {protocol.CLOSE_TOO_MANY, protocol.CLOSE_TOO_MANY_BAD_FRAMES, protocol.CLOSE_NOT_READING}
# Frame errors that are changes refused, counted with the changes' outcomes.
FRAME_OUTCOMES = {"index_out_of_range": Status.OUT_OF_RANGE, "bad_value": Status.BAD_VALUE}
# A refused change waiting behind this socket's changes in flight, so that its
# RESULTs keep the order of its SETs.
IN_FLIGHT = None


class BoardConsumer(AsyncWebsocketConsumer):
    """One player's socket on one board; the wire format and limits are in docs/protocol.md.

    Everything this socket may cost the process is bounded: frames it may send
    (and pings among them), changes it may have in flight, refusals it may
    collect, frames it may leave unacknowledged and bytes it may leave unread
    in the server's buffers. A socket past a bound is closed, and however it
    ends, :meth:`_leave` gives back what it held.
    """

    # Sockets are not channel-layer members: the process's BoardHub is, and it
    # writes to its sockets directly. Without a layer, Channels creates no
    # per-socket channel, so no Redis subscription per player.
    channel_layer_alias = None

    hub = None
    writer = None
    counted = False
    # The code the socket closed with (ours, or the client's), for the closes metric.
    close_code = None
    close_recorded = False
    # Set once the socket is closing or gone: nothing more is sent or accepted.
    closing = False
    # While the socket joins (between attach and hello): the hub's frames for it, sent after the hello.
    joining = None

    # While the socket joins (between attach and hello): the hub's frames for it, sent after the hello.
    async def __call__(self, scope, receive, send):
        # Channels' own __call__ reads through await_many_dispatch, made for a
        # socket that also listens to a channel layer: a task per message and
        # an asyncio.wait, about 1 KB held by every idle socket. With one source
        # of messages, reading them in turn does the same.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            # However the socket ended (a close, a drop before the handshake
            # finished, an error, a cancellation), it leaves the hub and gives
            # its network's slot back.
            await self._leave()

    async def dispatch(self, message):
        # Frames from the player never touch the ORM, so they skip the
        # aclose_old_connections() thread hop Channels adds to every dispatch
        # (about 150 µs each; docs/performance.md, "Profiles").
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
            return
        await super().dispatch(message)

    async def connect(self):
        self.frames_sent = 0
        self.frames_acked = 0
        self.lagging = False
        self.frames = limits.Windows(settings.BOARD_FRAME_LIMITS)
        self.pings = limits.Windows(settings.BOARD_PING_LIMITS)
        self.bad_frames = limits.Strikes()
        self.strikes = limits.Strikes()
        self.changes = limits.ChangeBucket(settings.BOARD_CHANGE_BUCKET)
        # This socket's changes in the hub's queue and the refusals held behind them.
        self.pending = deque()
        self.in_flight = 0
        self.connection_id = secrets.token_hex(6)
        self.address = network.client_address(self.scope)
        self.network = network.network_of(self.address)
        self.wide_network = network.wide_network_of(self.address)
        self.network_label = str(self.network) if self.network else None
        # Who this socket's changes are by, in the board's log (docs/history.md).
        address = str(self.address) if self.address else ""
        self.author = state.Author(self.network_label or "", address, self.connection_id)
        self.ban = bans.Verdict()
        await self.accept()
        # Frames to this socket skip the ASGI send path when daphne allows it (board/live/transport.py).
        self.writer = transport.direct_writer(self.base_send)
        if not await self._open():
            return
        try:
            hub = await hub_for(self.scope["url_route"]["kwargs"]["slug"])
        except DatabaseError as error:
            logger.warning("Cannot look up board %s: %s", self.scope["url_route"]["kwargs"]["slug"], error)
            await self._disconnect(protocol.CLOSE_UNAVAILABLE, *UNAVAILABLE)
            return
        if hub is None:
            await self._disconnect(protocol.CLOSE_BOARD_NOT_FOUND, *BOARD_NOT_FOUND)
            return
        # Attached before the meta read, so no fan-out during the read is
        # missed: UPDATEs that arrive before the hello wait in `joining`, and
        # go out right after it (a client places them by their versions).
        self.joining = []
        self.hub = hub
        hub.attach(self)
        try:
            meta = await state.ameta(hub.board)
        except state.StateUnavailable:
            await self._disconnect(protocol.CLOSE_UNAVAILABLE, *UNAVAILABLE)
            return
        joining, self.joining = self.joining, None
        # From its hello on, this socket's Redis calls have their own connections (state.LANE).
        state.LANE.set("players")
        await self._send(self._hello(hub, meta))
        hub.joins.inc()
        for send, payload, wire in joining:
            await send(payload, wire)

    async def _open(self):
        """Count this socket against its network's limits; close it if there is no room."""
        verdict = await limits.ledger().open(self.network, self.wide_network)
        if verdict == limits.OPENED:
            self.counted = True
            return True
        await self._disconnect(protocol.CLOSE_TOO_MANY, *SOCKET_REFUSALS[verdict])
        return False

    def _hello(self, hub, meta):
        return protocol.control(
            "hello",
            protocol=protocol.VERSION,
            board=hub.board.slug,
            size=meta.size,
            epoch=meta.epoch,
            version=meta.version,
            count=meta.count,
            frozen=meta.frozen,
            players=hub.players,
            tick_ms=settings.BOARD_TICK_MS,
            lag_frames=settings.BOARD_LAG_FRAMES,
        )

    async def disconnect(self, code):
        if self.close_code is None:
            self.close_code = code
        await self._leave()

    async def _leave(self):
        """Leave the hub and give back the ledger slot; safe to call more than once."""
        self.closing = True
        if not self.close_recorded:
            self.close_recorded = True
            metrics.CLOSES.labels(metrics.close_code(self.close_code or 1006)).inc()
        if self.hub is not None:
            self.hub.detach(self)
        if self.counted:
            self.counted = False
            await limits.ledger().close(self.network)
            if self.wide_network is not None:
                await limits.ledger().close(self.wide_network)

    async def receive(self, text_data=None, bytes_data=None):
        if self.closing:
            return
        if not self.frames.take(time.monotonic()):
            await self._disconnect(
                protocol.CLOSE_TOO_MANY, "too_many_frames", "Too many frames; slow down. Disconnected."
            )
            return
        if self.hub is None:
            return
        try:
            message = protocol.parse(text_data, bytes_data, settings.BOARD_MAX_FRAME_BYTES)
            if isinstance(message, SetBox):
                self._check(message)
            elif isinstance(message, Ack):
                self._check_ack(message)
            elif isinstance(message, Ping) and not self.pings.take(time.monotonic()):
                raise FrameError("too_many_pings", "Too many pings; this one is not answered.")
        except FrameError as error:
            await self._refuse(error)
            return
        if isinstance(message, SetBox):
            await self._change(message)
        elif isinstance(message, Ack):
            await self._acknowledge(message.frames)
        elif isinstance(message, Ping):
            await self._send(protocol.control("pong", token=message.token))

    def _check(self, change):
        size = self.hub.board.size
        if not 0 <= change.index < size:
            raise FrameError(
                "index_out_of_range", f"Box {change.index} does not exist; boxes are 0 to {size - 1}.", change.index
            )
        if change.value not in (0, 1):
            raise FrameError("bad_value", "A box is set to 0 (unchecked) or 1 (checked).", change.index)

    def _check_ack(self, ack):
        # Frames are counted mod 2**32. An ACK lies between the last one and the
        # frames sent so far: more than were sent, or going back, is a bad frame.
        if (ack.frames - self.frames_acked) % 2**32 > self._unacked():
            raise FrameError(
                "bad_frame", f"ACK of {ack.frames} frames; {self.frames_acked} to {self.frames_sent % 2**32} may be."
            )

    # -- changes -------------------------------------------------------------

    async def _change(self, change):
        refusal, wait = await self._refusal(change)
        if refusal is None:
            self.in_flight += 1
            self.pending.append(IN_FLIGHT)
            self.hub.submit(self, change.index, change.value)
            return
        # Refused here, at O(1), without entering the board's write queue. A
        # refused entry's version is the milliseconds to wait (0: no estimate).
        self.hub.outcomes[refusal].inc()
        entry = (change.index, change.value, refusal, wait)
        if self.pending:
            if len(self.pending) >= settings.BOARD_MAX_IN_FLIGHT * 4:
                await self._disconnect(protocol.CLOSE_TOO_MANY, *STRIKE_CLOSES[Status.RATE_LIMITED])
                return
            self.pending.append(entry)
        else:
            await self._send_results([entry])
        if refusal in STRIKE_CLOSES:
            await self._strike(refusal)

    async def _refusal(self, change):
        """Why a valid change is refused before it reaches the board and the milliseconds to wait, or (None, 0)."""
        self.hub.tally.count(self.network_label)
        if await self.ban.banned(self.network):
            return Status.BANNED, 0
        if self.in_flight >= settings.BOARD_MAX_IN_FLIGHT:
            # Its wait is the server's, not a rate: no estimate.
            return Status.RATE_LIMITED, 0
        now = time.monotonic()
        wait = self.changes.wait(now) or await self._network_wait()
        if wait:
            return Status.RATE_LIMITED, wait
        self.changes.take(now)
        return None, 0

    async def _network_wait(self):
        """Milliseconds until the network (and its wide network) may change a box; 0 counts this change."""
        if self.network is not None and settings.BOARD_NETWORK_CHANGE_BUCKET:
            wait = await limits.budget().wait(self.network)
            if wait:
                return wait
        if self.wide_network is not None and settings.BOARD_WIDE_NETWORK_CHANGE_BUCKET:
            return await limits.wide_budget().wait(self.wide_network)
        return 0

    async def _strike(self, refusal):
        """A client that keeps sending while refused is not listening: disconnect it."""
        limit = settings.BOARD_RATE_LIMITED_CLOSE
        if limit and self.strikes.add(time.monotonic()) > limit:
            await self._disconnect(protocol.CLOSE_TOO_MANY, *STRIKE_CLOSES[refusal])

    async def _disconnect(self, code, error_code, message):
        """Tell the client why, then close; frames still in flight are ignored."""
        if self.closing:
            return
        if not self.counted:
            # Refused as it opened (too many sockets, opening too often): the limits at work.
            door.refused(self.scope)
            self._log(logging.INFO, error_code, "Refused a socket: %s (%d).", error_code, code)
        elif code in ABUSE_CLOSES:
            door.refused(self.scope)
            self._log(logging.WARNING, error_code, "Closed a socket: %s (%d).", error_code, code)
        await self._send(protocol.error(error_code, message))
        self.closing = True
        await self._close(code)

    async def _close(self, code):
        self.closing = True
        if self.close_code is None:
            self.close_code = code
        try:
            await self.close(code=code)
        except Disconnected:
            pass
        if code in ABUSE_CLOSES and self.writer is not None:
            # A flood goes on after its close: autobahn would parse every frame
            # of it (a ping flood's were most of a process's CPU) until the
            # close handshake times out. Read nothing more.
            self.writer.stop_reading()

    async def _refuse(self, error):
        outcome = FRAME_OUTCOMES.get(error.code)
        if outcome is None:
            metrics.BAD_FRAMES.labels(error.code).inc()
        else:
            self.hub.outcomes[outcome].inc()
        fields = {} if error.index is None else {"index": error.index}
        await self._send(protocol.error(error.code, error.message, **fields))
        if self.bad_frames.add(time.monotonic()) > settings.BOARD_MAX_BAD_FRAMES:
            self._log(
                logging.WARNING,
                "bad_frames",
                "Closed a socket: too many bad frames, the last %s (%d).",
                error.code,
                protocol.CLOSE_TOO_MANY_BAD_FRAMES,
            )
            door.refused(self.scope)
            await self._close(protocol.CLOSE_TOO_MANY_BAD_FRAMES)

    async def _acknowledge(self, frames):
        self.frames_acked = frames
        if self.lagging and self._unacked() == 0:
            self.lagging = False
            await self._send(protocol.control("resync", reason="lagged"))

    def _unacked(self):
        return (self.frames_sent - self.frames_acked) % 2**32

    # -- sending: every frame to the client goes through _send ----------------

    async def _send(self, payload, wire=None):
        """Send one frame (bytes or text) unless the socket is closing; never raises for a gone socket.

        ``wire`` is the same frame already framed for WebSocket (board/live/transport.py).
        """
        if self.closing:
            return
        if self._unacked() >= settings.BOARD_MAX_UNACKED_FRAMES:
            # Not reading, or not acknowledging what it reads: what it would be
            # sent can only pile up in this process.
            self.closing = True
            self.frames_sent += 1
            self._log(logging.WARNING, "not_reading", "Closed a socket: not_reading (%d).", protocol.CLOSE_NOT_READING)
            await self._raw(protocol.error("not_reading", "Too many frames left unacknowledged; disconnected."))
            await self._close(protocol.CLOSE_NOT_READING)
            return
        self.frames_sent += 1
        await self._raw(payload, wire)

    async def _raw(self, payload, wire=None):
        writer = self.writer
        if writer is not None and writer.write(wire or transport.frame(payload)):
            if writer.queued_bytes() > settings.BOARD_MAX_QUEUED_BYTES:
                self.drop()
            return
        key = "bytes" if isinstance(payload, bytes) else "text"
        try:
            await self.base_send({"type": "websocket.send", key: payload})
        except Disconnected:
            # Closed between its close and daphne's onClose: the clean-up follows.
            self.closing = True

    def drop(self):
        """Abort a connection whose unread bytes passed the bound: no close frame could reach it."""
        if not self.closing:
            self._log(
                logging.WARNING,
                "queued_bytes",
                "Dropped a socket: more than %d bytes unread.",
                settings.BOARD_MAX_QUEUED_BYTES,
            )
            metrics.DROPPED.inc()
            self.close_code = 1006
        self.closing = True
        if self.writer is not None:
            self.writer.abort()

    def _log(self, level, kind, message, *args):
        """Log what happened to this socket, with its board and network; throttled per ``kind``, not per network.

        One flood from a thousand networks is a line a minute per kind (and a
        count of the rest), each line naming the network it was about.
        """
        extra = {"board": self.scope["url_route"]["kwargs"]["slug"], "network": self.network_label, "throttle": kind}
        logger.log(level, f"{message} Board %s, network %s.", *args, extra["board"], extra["network"], extra=extra)

    # -- called by the hub ---------------------------------------------------

    async def send_update(self, frame, wire=None):
        """Send an UPDATE frame; ``wire`` is the same frame already framed for WebSocket."""
        if self.joining is not None:
            self.joining.append((self.send_update, frame, wire))
            return
        if self.lagging or self.closing:
            return
        if self._unacked() > settings.BOARD_LAG_FRAMES:
            # The client stopped reading (or acking): stop queueing frames for it
            # instead of buffering without bound; it resyncs once it catches up.
            self.lagging = True
            metrics.LAGGING.inc()
            return
        await self._send(frame, wire)

    async def send_results(self, entries, epoch=0):
        """The hub's answers to this socket's next ``len(entries)`` changes in flight.

        ``epoch`` is the board's when they reached it (0 if they did not); the
        refusals sent with them in the same RESULT carry version 0 in any epoch.
        """
        self.in_flight -= len(entries)
        answers = iter(entries)
        out = []
        while self.pending:
            if self.pending[0] is IN_FLIGHT:
                answer = next(answers, None)
                if answer is None:
                    break
                self.pending.popleft()
                out.append(answer)
            else:
                out.append(self.pending.popleft())
        await self._send_results(out, epoch)

    async def _send_results(self, entries, epoch=0):
        self.hub.tally.answered(entries)  # every change's outcome, refusals too (the staff's live page)
        await self._send(protocol.encode_results(entries, epoch))

    async def storage_lost(self):
        await self._disconnect(protocol.CLOSE_UNAVAILABLE, *UNAVAILABLE)

    async def board_deleted(self):
        if self.closing:
            return
        await self._disconnect(protocol.CLOSE_BOARD_DELETED, *BOARD_DELETED)

    async def send_control(self, text, wire=None):
        """Send a JSON text frame; ``wire`` is the same frame already framed for WebSocket."""
        if self.joining is not None:
            self.joining.append((self._send, text, wire))
            return
        await self._send(text, wire)
