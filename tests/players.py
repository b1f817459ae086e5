"""A test player speaking the board protocol through Channels' WebsocketCommunicator."""

import asyncio
import json

from channels.testing import WebsocketCommunicator

from board import protocol, state
from board.replica import Replica
from checkboxes_project.asgi import application

ORIGIN = (b"origin", b"http://127.0.0.1")


class Player:
    def __init__(self, path="/ws/b/main/"):
        self.path = path
        self.communicator = WebsocketCommunicator(application, path, headers=[ORIGIN])
        self.hello = None
        self.replica = None
        self.controls = []
        self.results = []
        self.frames = 0

    async def join(self, board=None):
        connected, _ = await self.communicator.connect()
        assert connected
        self.hello = await self.receive_control("hello")
        self.replica = Replica(self.hello["size"])
        if board is not None:
            await self.load(board)
        return self

    async def load(self, board):
        bits, meta = await state.aread(board)
        self.replica.load(bits, meta.epoch, meta.version)

    async def leave(self):
        await self.communicator.disconnect()

    async def send_set(self, index, value):
        await self.communicator.send_to(bytes_data=protocol.encode_set(index, value))

    async def send_raw(self, frame):
        """Any frame, even an empty one (send_to() refuses those)."""
        key = "bytes" if isinstance(frame, bytes) else "text"
        await self.communicator.send_input({"type": "websocket.receive", key: frame})

    async def send_json(self, message):
        await self.communicator.send_to(text_data=json.dumps(message))

    async def next_frame(self, timeout=3):
        message = await self.communicator.receive_output(timeout)
        if message["type"] == "websocket.close":
            raise ConnectionClosed(message.get("code"))
        self.frames += 1
        if message.get("text") is not None:
            control = json.loads(message["text"])
            self.controls.append(control)
            return control
        frame = message["bytes"]
        if frame[0] == protocol.FRAME_UPDATE:
            self.replica.update(frame)
        else:
            self.results.extend(protocol.decode_results(frame))
        return frame

    async def receive_control(self, kind, timeout=3):
        """Skip frames until a control message of ``kind`` arrives."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.next_frame(timeout)
                if isinstance(frame, dict) and frame["type"] == kind:
                    return frame

    async def receive_result(self, timeout=3):
        async with asyncio.timeout(timeout):
            while not self.results:
                await self.next_frame(timeout)
        return self.results.pop(0)

    async def wait_for_version(self, version, timeout=3):
        async with asyncio.timeout(timeout):
            while self.replica.version < version:
                await self.next_frame(timeout)

    async def drain(self, quiet=0.2):
        """Read until nothing arrives for ``quiet`` seconds."""
        # receive_output() would cancel the application on a timeout;
        # receive_nothing() only looks.
        while not await self.communicator.receive_nothing(quiet):
            await self.next_frame()

    async def closed_with(self, timeout=3):
        async with asyncio.timeout(timeout):
            while True:
                try:
                    await self.next_frame(timeout)
                except ConnectionClosed as closed:
                    return closed.code


class ConnectionClosed(Exception):
    def __init__(self, code):
        super().__init__(f"closed with code {code}")
        self.code = code
