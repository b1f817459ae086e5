"""Every client ends with exactly Redis's bitset, whatever happened on the way.

Clients on two daphne processes change random boxes of a small board (so they
collide often) while some of them drop UPDATE frames and some reconnect. At the
end every replica must equal the bitset in Redis, byte for byte: one Redis, or
on a Redis Cluster the primary of the board's slot.
"""

import asyncio
import json
import random
import time

import pytest
import websockets

from board.live import protocol
from board.models import Board
from board.store import state
from harness.players import ConnectionClosed, NetPlayer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("redis_backend", "hubs")]

SIZE = 2_000
GAP_WAIT = 1.5


class SyncingClient:
    """A NetPlayer that keeps itself in sync the way the browser does."""

    def __init__(self, url, rng, drop_every=0):
        self.url = url
        self.rng = rng
        self.drop_every = drop_every
        self.player = None
        self.behind_since = None
        self.expected = 0
        self.updates = 0
        self.resyncs = 0

    async def connect(self):
        self.player = await NetPlayer(self.url, slug="race").join()
        await self.resync()

    async def resync(self):
        self.resyncs += 1
        await self.player.load()
        self.behind_since = None

    async def read(self):
        while True:
            try:
                frame = await self.player.recv(timeout=0.5)
            except TimeoutError:
                await self.check_gap()
                continue
            except ConnectionClosed:
                return
            await self.handle(frame)

    async def handle(self, frame):
        player = self.player
        player.frames += 1
        if player.frames % 16 == 0:
            await player.ack()
        if isinstance(frame, bytes) and frame[0] == protocol.FRAME_UPDATE:
            self.updates += 1
            if self.drop_every and self.updates % self.drop_every == 0:
                return  # a lost frame
            player.replica.update(frame)
        elif isinstance(frame, str):
            message = json.loads(frame)
            if message["type"] == "resync":
                await self.resync()
            elif message["type"] == "beacon":
                if message["epoch"] != player.replica.epoch:
                    await self.resync()
                self.expected = max(self.expected, message["version"])
        await self.check_gap()

    async def check_gap(self):
        replica = self.player.replica
        behind = replica.behind or replica.version < self.expected
        if not behind:
            self.behind_since = None
        elif self.behind_since is None:
            self.behind_since = time.monotonic()
        elif time.monotonic() - self.behind_since > GAP_WAIT:
            await self.resync()

    async def play(self, until, rate):
        while time.monotonic() < until:
            try:
                await self.player.send_set(self.rng.randrange(SIZE), self.rng.randrange(2))
            except (ConnectionClosed, websockets.ConnectionClosed):
                pass  # reconnecting, like a player clicking while the page is offline
            await asyncio.sleep(self.rng.expovariate(rate))


async def run_clients(servers, clients_per_server, seconds, rng):
    clients = []
    for k in range(clients_per_server * len(servers)):
        drop = 7 if k % 5 == 0 else 0
        clients.append(SyncingClient(servers[k % len(servers)].url, random.Random(rng.random()), drop))
    for client in clients:
        await client.connect()
    readers = {client: asyncio.create_task(client.read()) for client in clients}
    until = time.monotonic() + seconds
    # At most a person's pace (the shipped limit is 7 changes a second per socket).
    players = [asyncio.create_task(client.play(until, rate=5)) for client in clients]

    # Halfway through, a few clients lose their connection and come back.
    await asyncio.sleep(seconds / 2)
    for client in clients[1:4]:
        await client.player.leave()
        await readers[client]
        await client.connect()
        readers[client] = asyncio.create_task(client.read())
    await asyncio.gather(*players)
    return clients, readers


async def test_every_client_converges_on_the_redis_bitset(daphnes):
    board = await Board.objects.acreate(slug="race", size=SIZE)
    servers = daphnes(2, BOARD_BEACON_SECONDS=1)
    clients, readers = await run_clients(servers, clients_per_server=10, seconds=8, rng=random.Random(7))

    bits, meta = await state.aread(board)
    assert meta.version > 250, "the run should have made plenty of real changes"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if all(c.player.replica.version == meta.version and not c.player.replica.behind for c in clients):
            break
        await asyncio.sleep(0.2)
    for client in clients:
        assert client.player.replica.version == meta.version
        assert bytes(client.player.replica.bits) == bits
    assert int.from_bytes(bits, "big").bit_count() == meta.count
    # The lossy clients really lost frames and recovered by resyncing.
    assert all(c.resyncs > 1 for c in clients if c.drop_every)
    for client in clients:
        await client.player.leave()
    await asyncio.gather(*readers.values())
