"""The tests' in-process player: the ASGI application through Channels' WebsocketCommunicator."""

from channels.testing import WebsocketCommunicator

from board.store import state
from checkboxes_project.asgi import application
from harness.players import ORIGIN, BasePlayer, ConnectionClosed


class Player(BasePlayer):
    """In-process, through WebsocketCommunicator; ``client`` is the (address, port) the server sees."""

    def __init__(self, path="/ws/b/main/", address=None, headers=(), client=None):
        super().__init__()
        # A browser's handshake: the page's origin, and the Host it was served from.
        headers = [(b"origin", ORIGIN.encode()), (b"host", ORIGIN.removeprefix("http://").encode()), *headers]
        self.communicator = WebsocketCommunicator(application, path, headers=headers)
        if address is not None:
            client = (address, 50_000)
        if client is not None:
            # Set before the application first runs, which is when it reads its scope.
            self.communicator.scope["client"] = list(client)

    async def open(self):
        connected, _ = await self.communicator.connect()
        assert connected

    async def load(self, board):
        bits, meta = await state.aread(board)
        self.replica.load(bits, meta.epoch, meta.version)

    async def leave(self):
        await self.communicator.disconnect()

    async def send(self, frame):
        await self.send_raw(frame)

    async def send_raw(self, frame):
        """Any frame, even an empty one (send_to() refuses those)."""
        key = "bytes" if isinstance(frame, bytes) else "text"
        await self.communicator.send_input({"type": "websocket.receive", key: frame})

    async def recv(self, timeout):
        message = await self.communicator.receive_output(timeout)
        if message["type"] == "websocket.close":
            raise ConnectionClosed(message.get("code"))
        return message["text"] if message.get("text") is not None else message["bytes"]

    async def drain(self, quiet=0.2):
        """Read until nothing arrives for ``quiet`` seconds."""
        # receive_output() would cancel the application on a timeout;
        # receive_nothing() only looks.
        while not await self.communicator.receive_nothing(quiet):
            await self.next_frame()
