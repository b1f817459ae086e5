import secrets
import time

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from ..store import state
from ..store.state import Status
from . import bans, limits, network, protocol, transport
from .hub import hub_for
from .protocol import Ack, FrameError, Ping, SetBox

BOARD_NOT_FOUND = ("board_not_found", "There is no board at this address.")
UNAVAILABLE = ("unavailable", "The board's storage is unreachable; retry soon.")
BOARD_DELETED = ("board_deleted", "This board was deleted by its moderators.")
SOCKET_REFUSALS = {
    limits.TOO_MANY_SOCKETS: ("too_many_sockets", "Too many open boards from your network; close some and retry."),
    limits.OPENING_TOO_OFTEN: ("opening_too_often", "Your network is connecting too often; wait a minute."),
}


class BoardConsumer(AsyncWebsocketConsumer):
    """One player's socket on one board; the wire format is in docs/protocol.md."""

    # Sockets are not channel-layer members: the process's BoardHub is, and it
    # writes to its sockets directly. Without a layer, Channels creates no
    # per-socket channel, so no Redis subscription per player.
    channel_layer_alias = None

    hub = None
    writer = None

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
        self.bad_frames = limits.Strikes()
        self.closing = False
        self.rate_strikes = limits.Strikes()
        self.changes = limits.ChangeWindow(settings.BOARD_RATE_LIMITS)
        self.connection_id = secrets.token_hex(6)
        self.address = network.client_address(self.scope)
        self.network = network.network_of(self.address)
        self.counted = False
        self.network_label = str(self.network) if self.network else None
        # Who this socket's changes are by, in the board's log (board/changelog.py).
        address = str(self.address) if self.address else ""
        self.author = state.Author(self.network_label or "", address, self.connection_id)
        self.ban = bans.Verdict()
        await self.accept()
        # Frames to this socket skip the ASGI send path when daphne allows it (board/transport.py).
        self.writer = transport.direct_writer(self.base_send)
        if not await self._open():
            return
        hub = await hub_for(self.scope["url_route"]["kwargs"]["slug"])
        if hub is None:
            await self._disconnect(protocol.CLOSE_BOARD_NOT_FOUND, *BOARD_NOT_FOUND)
            return
        try:
            meta = await state.ameta(hub.board)
        except state.StateUnavailable:
            await self._disconnect(protocol.CLOSE_UNAVAILABLE, *UNAVAILABLE)
            return
        # Under daphne this send does not suspend (the direct writer and daphne's
        # handle_reply write synchronously), so no fan-out runs between the hello
        # and attach. One that ran during the meta read above is a gap the
        # client fills from the state it fetches next.
        await self.send_control(self._hello(hub, meta))
        self.hub = hub
        hub.attach(self)

    async def _open(self):
        """Count this socket against its network's limits; close it if there is no room."""
        verdict = await limits.ledger().open(self.network)
        if verdict == limits.OPENED:
            self.counted = True
            return True
        await self._disconnect(protocol.CLOSE_TOO_MANY, *SOCKET_REFUSALS[verdict])
        return False

    def _hello(self, hub, meta):
        return protocol.control(
            "hello",
            protocol=1,
            board=hub.board.slug,
            size=meta.size,
            epoch=meta.epoch,
            version=meta.version,
            count=meta.count,
            frozen=meta.frozen,
            players=hub.players + 1,  # this socket attaches right after
            tick_ms=settings.BOARD_TICK_MS,
            lag_frames=settings.BOARD_LAG_FRAMES,
        )

    async def disconnect(self, code):
        if self.hub is not None:
            self.hub.detach(self)
        if self.counted:
            self.counted = False
            await limits.ledger().close(self.network)

    async def receive(self, text_data=None, bytes_data=None):
        if self.hub is None or self.closing:
            return
        try:
            message = protocol.parse(text_data, bytes_data, settings.BOARD_MAX_FRAME_BYTES)
            if isinstance(message, SetBox):
                self._check(message)
        except FrameError as error:
            await self._refuse(error)
            return
        if isinstance(message, SetBox):
            refusal = await self._moderation() or await self._refusal(message)
            self.hub.submit(self, message.index, message.value, refusal)
            if refusal == Status.RATE_LIMITED:
                await self._rate_limited()
        elif isinstance(message, Ack):
            await self._acknowledge(message.frames)
        elif isinstance(message, Ping):
            await self.send_control(protocol.control("pong", token=message.token))

    def _check(self, change):
        size = self.hub.board.size
        if not 0 <= change.index < size:
            raise FrameError(
                "index_out_of_range", f"Box {change.index} does not exist; boxes are 0 to {size - 1}.", change.index
            )
        if change.value not in (0, 1):
            raise FrameError("bad_value", "A box is set to 0 (unchecked) or 1 (checked).", change.index)

    async def _moderation(self):
        """Count the change in the moderators' tally of who changes the board; refuse it if the network is banned."""
        self.hub.tally.count(self.network_label)
        if await self.ban.banned(self.network):
            return Status.BANNED
        return None

    async def _refusal(self, change):
        """Why a valid change is refused before it reaches the board, or None to let it through.

        The refusal is answered in the change's RESULT, in order with the others.
        """
        now = time.monotonic()
        if not self.changes.has_room(now):
            return Status.RATE_LIMITED
        if not await self._network_allows():
            return Status.RATE_LIMITED
        self.changes.take(now)
        return None

    async def _network_allows(self):
        if self.network is None or not settings.BOARD_NETWORK_RATE_LIMITS:
            return True
        return await limits.budget().allow(self.network)

    async def _rate_limited(self):
        """A client that keeps sending while refused is not listening: disconnect it."""
        limit = settings.BOARD_RATE_LIMITED_CLOSE
        if limit and self.rate_strikes.add(time.monotonic()) > limit:
            await self._disconnect(
                protocol.CLOSE_TOO_MANY, "rate_limited", "Too many changes while told to slow down; disconnected."
            )

    async def _disconnect(self, code, error_code, message):
        """Tell the client why, then close; frames still in flight are ignored."""
        self.closing = True
        await self.send_control(protocol.error(error_code, message))
        await self.close(code=code)

    async def _refuse(self, error):
        fields = {} if error.index is None else {"index": error.index}
        await self.send_control(protocol.error(error.code, error.message, **fields))
        if self.bad_frames.add(time.monotonic()) > settings.BOARD_MAX_BAD_FRAMES:
            self.closing = True
            await self.close(code=protocol.CLOSE_TOO_MANY_BAD_FRAMES)

    async def _acknowledge(self, frames):
        self.frames_acked = frames
        if self.lagging and self._unacked() == 0:
            self.lagging = False
            await self.send_control(protocol.control("resync", reason="lagged"))

    def _unacked(self):
        return (self.frames_sent - self.frames_acked) % 2**32

    # -- called by the hub ---------------------------------------------------

    async def send_update(self, frame, wire=None):
        """Send an UPDATE frame; ``wire`` is the same frame already framed for WebSocket."""
        if self.lagging:
            return
        if self._unacked() > settings.BOARD_LAG_FRAMES:
            # The client stopped reading (or acking): stop queueing frames for it
            # instead of buffering without bound; it resyncs once it catches up.
            self.lagging = True
            return
        self.frames_sent += 1
        if self.writer is None or not self.writer.write(wire or transport.frame(frame)):
            await self.base_send({"type": "websocket.send", "bytes": frame})

    async def send_results(self, entries):
        self.frames_sent += 1
        payload = protocol.encode_results(entries)
        if self.writer is None or not self.writer.write(transport.frame(payload)):
            await self.base_send({"type": "websocket.send", "bytes": payload})

    async def storage_lost(self):
        if self.closing:
            return
        await self._disconnect(protocol.CLOSE_UNAVAILABLE, *UNAVAILABLE)

    async def board_deleted(self):
        if self.closing:
            return
        await self._disconnect(protocol.CLOSE_BOARD_DELETED, *BOARD_DELETED)

    async def send_control(self, text, wire=None):
        """Send a JSON text frame; ``wire`` is the same frame already framed for WebSocket."""
        self.frames_sent += 1
        if self.writer is None or not self.writer.write(wire or transport.frame(text)):
            await self.base_send({"type": "websocket.send", "text": text})
