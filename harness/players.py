"""Players speaking the board protocol (docs/protocol.md), for tests and benchmarks.

``NetPlayer`` talks to a real daphne over TCP and keeps a
:class:`harness.replica.Replica` of the board from the frames it reads. The
tests' in-process player (tests/players.py) shares :class:`BasePlayer`.
"""

import asyncio
import http.client
import itertools
import json
import urllib.error
import urllib.parse

import websockets

from board.live import protocol
from harness.replica import Replica

ORIGIN = "http://127.0.0.1"

# Addresses handed to players that name none: 127.2.0.1 onwards. Linux routes
# all of 127.0.0.0/8 to the loopback interface, so any of them can be bound.
# 127.0.0.x is left to tests that pick an address themselves, 127.1.x.y to the
# benchmarks' load generator.
_addresses = itertools.count(1)


def own_address():
    """A loopback address no other player of this process has: a network of its own."""
    number = next(_addresses) % (250 * 2**16)
    return f"127.{2 + number // 2**16}.{number // 256 % 256}.{number % 256}"


class ConnectionClosed(Exception):
    def __init__(self, code):
        super().__init__(f"closed with code {code}")
        self.code = code


class BasePlayer:
    def __init__(self):
        self.hello = None
        self.replica = None
        self.controls = []
        self.results = []
        # The epoch of the latest RESULT frame (0: none of its changes reached the board).
        self.result_epoch = None
        self.updates = 0
        self.frames = 0

    async def join(self, board=None):
        await self.open()
        self.hello = await self.receive_control("hello")
        self.replica = Replica(self.hello["size"])
        if board is not None:
            await self.load(board)
        return self

    async def send_set(self, index, value):
        await self.send(protocol.encode_set(index, value))

    async def send_json(self, message):
        await self.send(json.dumps(message))

    async def ack(self):
        await self.send(protocol.encode_ack(self.frames))

    async def next_frame(self, timeout=5):
        frame = await self.recv(timeout)
        self.frames += 1
        if isinstance(frame, str):
            control = json.loads(frame)
            self.controls.append(control)
            return control
        if frame[0] == protocol.FRAME_UPDATE:
            self.updates += 1
            self.replica.update(frame)
        else:
            self.result_epoch, entries = protocol.decode_results(frame)
            self.results.extend(entries)
        return frame

    async def receive_control(self, kind, timeout=5):
        """Read frames until a control message of ``kind`` arrives."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.next_frame(timeout)
                if isinstance(frame, dict) and frame["type"] == kind:
                    return frame

    async def receive_result(self, timeout=5):
        async with asyncio.timeout(timeout):
            while not self.results:
                await self.next_frame(timeout)
        return self.results.pop(0)

    async def wait_for_version(self, version, timeout=5):
        async with asyncio.timeout(timeout):
            while self.replica.version < version:
                await self.next_frame(timeout)

    async def closed_with(self, timeout=5):
        async with asyncio.timeout(timeout):
            while True:
                try:
                    await self.next_frame(timeout)
                except ConnectionClosed as closed:
                    return closed.code


class NetPlayer(BasePlayer):
    """Over TCP to a daphne at ``base_url`` (http://host:port).

    Each player connects, and fetches the state, from ``local_address``: by
    default one of its own (:func:`own_address`), so the server counts it as
    its own network, with that network's limits, as a person at home is.
    Players given one address share a network.
    """

    def __init__(self, base_url, slug="main", headers=None, local_address=None):
        super().__init__()
        self.base_url = base_url
        self.slug = slug
        self.headers = headers
        self.local_address = local_address or own_address()
        self.socket = None

    async def open(self):
        url = self.base_url.replace("http", "ws", 1) + f"/ws/b/{self.slug}/"
        self.socket = await websockets.connect(
            url,
            origin=self.base_url,
            max_size=2**24,
            additional_headers=self.headers,
            local_addr=(self.local_address, 0),
        )

    async def load(self, board=None):
        bits, epoch, version = await asyncio.to_thread(fetch_state, self.base_url, self.slug, self.local_address)
        self.replica.load(bits, epoch, version)

    async def leave(self):
        await self.socket.close()

    async def catch_up(self, version, timeout=20, gap_wait=1.5):
        """Reach ``version`` the way the browser does: from UPDATEs, or by
        fetching the state when told to resync or when updates stop arriving
        (the channel layer drops batches while Redis is away)."""
        async with asyncio.timeout(timeout):
            since = asyncio.get_running_loop().time()
            while self.replica.version < version or self.replica.behind:
                try:
                    frame = await self.next_frame(timeout=0.3)
                except TimeoutError:
                    frame = None
                resync = isinstance(frame, dict) and frame["type"] == "resync"
                if resync or asyncio.get_running_loop().time() - since > gap_wait:
                    await self.load()
                    since = asyncio.get_running_loop().time()

    async def send(self, frame):
        try:
            await self.socket.send(frame)
        except websockets.ConnectionClosed as closed:
            raise ConnectionClosed(closed.rcvd.code if closed.rcvd else None) from None

    async def recv(self, timeout):
        try:
            return await asyncio.wait_for(self.socket.recv(), timeout)
        except websockets.ConnectionClosed as closed:
            raise ConnectionClosed(closed.rcvd.code if closed.rcvd else None) from None


def fetch_state(base_url, slug="main", local_address=None):
    """The board's bits, epoch and version from ``GET /b/<slug>/state``, asked from ``local_address``."""
    url = urllib.parse.urlsplit(base_url)
    source = (local_address, 0) if local_address else None
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10, source_address=source)
    try:
        connection.request("GET", f"/b/{slug}/state")
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            # What urlopen raises, so callers catch one kind of error (an OSError).
            raise urllib.error.HTTPError(
                f"{base_url}/b/{slug}/state", response.status, response.reason, response.headers, None
            )
        return body, int(response.headers["X-Board-Epoch"]), int(response.headers["X-Board-Version"])
    finally:
        connection.close()


async def play_timed(url, players, seconds, rate=None):
    """``players`` NetPlayers each change random boxes, one change in flight, for ``seconds``.

    With ``rate``, each pauses for an exponential time of mean 1/rate between
    changes. Returns the sorted SET-to-RESULT times in seconds (the benchmarks
    of the limits and of the change log use it).
    """
    import random

    joined = [await NetPlayer(url).join() for _ in range(players)]
    times, loop = [], asyncio.get_running_loop()
    until = loop.time() + seconds

    async def play(player, rng):
        while loop.time() < until:
            sent = loop.time()
            await player.send_set(rng.randrange(100_000), rng.randrange(2))
            await player.receive_result(timeout=30)
            times.append(loop.time() - sent)
            await player.ack()
            if rate:
                await asyncio.sleep(rng.expovariate(rate))

    await asyncio.gather(*(play(player, random.Random(k)) for k, player in enumerate(joined)))
    for player in joined:
        await player.leave()
    return sorted(times)
