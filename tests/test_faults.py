"""Faults: Redis going away and coming back (with its data, empty, or rewound).

Each test runs its own redis-server so it can stop and restart it, and real
daphne processes pointed at it; and again on a Redis Cluster of its own, where
"Redis goes away" is every node stopped (each node's append-only file keeps
its data, as one Redis's does), and "rewound" is the primary of the board's
slot come back from an older copy.
"""

import asyncio
import shutil
import urllib.error
import urllib.request

import pytest
import redis
import websockets
from asgiref.sync import sync_to_async

from board import bitset
from board.live import protocol
from board.management.serving import LocalRedis
from board.models import Board
from board.store import state
from board.store.state import Status
from harness.cluster import LocalCluster
from harness.players import ConnectionClosed, NetPlayer
from tests.conftest import use_redis
from tests.players import Player

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("hubs")]

FAST = {"BOARD_BEACON_SECONDS": 1}


@pytest.fixture(params=["redis", "cluster"])
def own_redis(request, own_redis, tmp_path):
    """The conftest's own redis-server, or a Redis Cluster of this test's own with an append-only file a node."""
    if request.param == "redis":
        return own_redis
    cluster = LocalCluster(tmp_path / "cluster", persistent=True).start()
    request.addfinalizer(cluster.stop)
    return cluster


def holder(server, slug="main"):
    """The redis-server holding ``slug``'s keys: ``server``, or on a cluster the primary of their slot."""
    return server.primary_of(state.keys(slug)[0]) if isinstance(server, LocalCluster) else server


def bits_in(server, slug="main"):
    with redis.Redis(host="127.0.0.1", port=holder(server, slug).port) as client:
        return client.get(state.keys(slug)[0]), client.hgetall(state.keys(slug)[1])


def lose_data(server):
    """Delete the stopped server's files: it starts again empty (a cluster's nodes still know their cluster)."""
    if isinstance(server, LocalCluster):
        server.lose_data()
    else:
        shutil.rmtree(server.directory / "appendonlydir")


def start_from(server, primary, saved):
    """Start the stopped, emptied ``server`` with ``primary`` holding the RDB file ``saved``; return what to stop after.

    One Redis starts without its append-only file, so it loads ``saved``; on a
    cluster so does the board's primary, and its replica syncs from it.
    """
    shutil.copy(saved, primary.directory / "dump.rdb")
    if isinstance(server, LocalCluster):
        # With its append-only file on and none on disk, a node would start empty, not from the RDB file.
        primary.persistent = False
        return server.start()
    return LocalRedis(server.directory, port=server.port).start()


def status_of(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


async def join_when_ready(url, timeout=30):
    """Join as soon as the server lets us (it refuses with 4503 while Redis is away)."""
    async with asyncio.timeout(timeout):
        while True:
            player = NetPlayer(url)
            try:
                await player.join()
                await player.load()
                return player
            except (ConnectionClosed, OSError, websockets.WebSocketException):
                await asyncio.sleep(0.2)


async def relayed_between(sender, receiver, attempts=20):
    """Changes from one process reach a socket on another again.

    Batches published in the second or so before a process has subscribed
    again are lost (clients catch up from the state); so keep changing boxes
    until one arrives as an UPDATE.
    """
    for index in range(100, 100 + attempts):
        await sender.send_set(index, 1)
        version = (await sender.receive_result())[3]
        try:
            await receiver.wait_for_version(version, timeout=1)
            return
        except TimeoutError:
            await receiver.load()
    raise AssertionError("no change made it from one process to the other")


async def closed_for_unavailable(player):
    code = await player.closed_with(timeout=15)
    errors = [c["code"] for c in player.controls if c["type"] == "error"]
    return code, errors


async def test_players_are_told_to_reconnect_when_redis_goes_away_and_resume_when_it_returns(
    daphnes, own_redis, record_property
):
    first, second = daphnes(2, REDIS_URL=own_redis.url, **FAST)
    alice = await join_when_ready(first.url)
    bob = await join_when_ready(second.url)
    await alice.send_set(1, 1)
    await bob.wait_for_version(1)

    loop = asyncio.get_running_loop()
    stopped = loop.time()
    own_redis.stop()
    for player in (alice, bob):
        assert await closed_for_unavailable(player) == (protocol.CLOSE_UNAVAILABLE, ["unavailable"])
    # Figures for docs/reliability.md (pytest --junitxml keeps them); nothing asserts on time.
    record_property("seconds_until_players_told", round(loop.time() - stopped, 2))
    # The servers stay up, say they are unhealthy, and refuse newcomers the same way.
    assert first.process.poll() is None and second.process.poll() is None
    assert status_of(f"{first.url}/healthz") == 503
    assert status_of(f"{second.url}/b/main/state") == 503
    newcomer = NetPlayer(first.url)
    await newcomer.open()
    assert await closed_for_unavailable(newcomer) == (protocol.CLOSE_UNAVAILABLE, ["unavailable"])
    lines_before = [len(server.log().splitlines()) for server in (first, second)]
    await asyncio.sleep(4)
    lines_after = [len(server.log().splitlines()) for server in (first, second)]

    own_redis.start()
    started = loop.time()
    alice = await join_when_ready(first.url)
    bob = await join_when_ready(second.url)
    record_property("seconds_until_players_back", round(loop.time() - started, 2))
    grown = [after - before for before, after in zip(lines_before, lines_after, strict=True)]
    record_property("log_lines_in_4s_outage", grown)
    assert (alice.hello["version"], bob.hello["version"]) == (1, 1)
    assert bob.replica.get(1) == 1
    await relayed_between(alice, bob)
    await alice.catch_up(bob.replica.version)
    assert bob.replica.bits == alice.replica.bits == bytearray(bits_in(own_redis)[0])
    # Four seconds of outage wrote no more than a handful of lines per process.
    assert all(after - before <= 5 for before, after in zip(lines_before, lines_after, strict=True)), [
        server.log() for server in (first, second)
    ]
    await alice.leave()
    await bob.leave()


async def recovered(player, url):
    """After a Redis restart: the player was either disconnected (and joins
    again) or told to resync (and fetches the state)."""
    async with asyncio.timeout(20):
        while True:
            try:
                frame = await player.next_frame(timeout=10)
            except ConnectionClosed:
                return await join_when_ready(url)
            if isinstance(frame, dict) and frame["type"] == "resync":
                await player.load()
                return player


async def test_a_redis_that_returns_empty_serves_the_board_as_it_was_initialised(daphnes, own_redis):
    first, second = daphnes(2, REDIS_URL=own_redis.url, **FAST)
    alice = await join_when_ready(first.url)
    await alice.send_set(1, 1)
    await alice.receive_result()
    old_epoch = alice.hello["epoch"]

    own_redis.stop()
    assert await closed_for_unavailable(alice) == (protocol.CLOSE_UNAVAILABLE, ["unavailable"])
    lose_data(own_redis)
    own_redis.start()

    # Board.initial_state() decides what a lost board starts from; today that
    # is empty (restoring the newest snapshot belongs to the moderation work).
    alice = await join_when_ready(first.url)
    bob = await join_when_ready(second.url)
    assert alice.hello["epoch"] != old_epoch
    assert alice.hello["version"] == 0
    assert alice.replica.get(1) == 0
    await relayed_between(alice, bob)
    await bob.catch_up(alice.replica.version)
    assert bob.replica.bits == bytearray(bits_in(own_redis)[0])
    await alice.leave()
    await bob.leave()


async def test_players_converge_after_redis_returns_without_its_last_changes(daphnes, own_redis, tmp_path):
    first, second = daphnes(2, REDIS_URL=own_redis.url, **FAST)
    alice = await join_when_ready(first.url)
    bob = await join_when_ready(second.url)
    for index in (1, 2, 3):
        await alice.send_set(index, 1)
        await alice.receive_result()
    primary = holder(own_redis)
    with redis.Redis(host="127.0.0.1", port=primary.port) as client:
        client.save()
    saved = tmp_path / "saved.rdb"
    shutil.copy(primary.directory / "dump.rdb", saved)
    for index in (4, 5):
        await alice.send_set(index, 1)
        await alice.receive_result()
    await bob.wait_for_version(5)

    # Redis dies and comes back from an older copy (an fsync that never
    # happened, a replica promoted before it caught up): version 3 again,
    # same epoch, while both players hold version 5.
    own_redis.stop(kill=True)
    lose_data(own_redis)
    rewound = start_from(own_redis, primary, saved)
    try:
        assert int(bits_in(rewound)[1][b"version"]) == 3
        alice = await recovered(alice, first.url)
        bob = await recovered(bob, second.url)
        await alice.send_set(6, 1)
        version = (await alice.receive_result())[3]
        assert version == 4
        await bob.catch_up(version)
        await alice.catch_up(version)
        expected = bytearray(bits_in(rewound)[0])
        assert bob.replica.bits == alice.replica.bits == expected
        assert [bob.replica.get(index) for index in range(7)] == [0, 1, 1, 1, 0, 0, 1]
        await alice.leave()
        await bob.leave()
    finally:
        rewound.stop()


@pytest.mark.django_db(transaction=True)
async def test_a_hub_that_finds_a_different_redis_tells_every_player_to_resync(settings, tmp_path, redis_backend):
    settings.BOARD_BEACON_SECONDS = 1
    board = await sync_to_async(Board.objects.default)()
    alice = await Player().join(board)
    # A beacon means the hub has beaten at least once and knows the first Redis.
    await alice.receive_control("beacon", timeout=10)
    # On a cluster, another cluster: the board's slot has another primary.
    kind = LocalCluster if isinstance(redis_backend, LocalCluster) else LocalRedis
    original, other = settings.REDIS_URL, kind(tmp_path / "other").start()
    try:
        use_redis(other.url)
        assert (await alice.receive_control("resync", timeout=10))["reason"] == "restarted"
        await alice.leave()
    finally:
        use_redis(original)
        other.stop()


# -- a serving process killed while players play ------------------------------------------


class Keeper:
    """A player that changes boxes of its own and remembers what the server acknowledged.

    One change is in flight at a time, so when its process dies at most one
    change is unaccounted for: it may or may not have been applied.
    """

    def __init__(self, url, boxes, rng):
        self.url, self.boxes, self.rng = url, boxes, rng
        self.player = None
        self.last = {}  # box -> (value the server acknowledged, or None), (value in doubt, or None)
        self.versions = []
        self.reconnects = 0
        self.away = []

    async def connect(self):
        self.player = await NetPlayer(self.url, slug="kill").join()
        await self.player.load()

    async def play(self, until):
        loop = asyncio.get_running_loop()
        while loop.time() < until:
            index, value = self.rng.choice(self.boxes), self.rng.randrange(2)
            acked = self.last.get(index, (0, None))[0]
            try:
                await self.player.send_set(index, value)
                _, _, status, version = await self.player.receive_result()
                await self.player.ack()
            except (ConnectionClosed, websockets.ConnectionClosed):
                # Its process died: that change may have been applied or not.
                self.last[index] = (acked, value)
                self.reconnects += 1
                lost = loop.time()
                await self.connect()
                self.away.append(loop.time() - lost)
                continue
            if status == Status.APPLIED:
                self.versions.append(version)
            if status in (Status.APPLIED, Status.UNCHANGED):
                self.last[index] = (value, None)
            # A quick person's pace, within the shipped 7 changes a second.
            await asyncio.sleep(self.rng.uniform(0.15, 0.25))

    def unlike(self, bits):
        """Boxes whose bit in ``bits`` is neither the acknowledged value nor the one in doubt."""
        wrong = []
        for index, (acked, doubtful) in self.last.items():
            bit = bitset.get(bits, index)
            if bit != acked and bit != doubtful:
                wrong.append(index)
        return wrong


@pytest.mark.usefixtures("redis_backend")
async def test_no_acknowledged_change_is_lost_when_a_process_is_killed_mid_game(daphnes, nginx, record_property):
    import random

    board = await Board.objects.acreate(slug="kill", size=4096)
    # nginx is the trusted proxy, so each player's own address is its network, as in production.
    servers = daphnes(3, BOARD_BEACON_SECONDS=1, TRUSTED_PROXIES="127.0.0.1/32")
    proxy = nginx([server.port for server in servers])
    rng = random.Random(5)
    keepers = [Keeper(proxy.url, list(range(k * 100, k * 100 + 100)), random.Random(rng.random())) for k in range(12)]
    for keeper in keepers:
        await keeper.connect()

    loop = asyncio.get_running_loop()
    until = loop.time() + 8
    games = asyncio.gather(*(keeper.play(until) for keeper in keepers))
    await asyncio.sleep(3)
    servers[0].kill()
    await games

    bits, meta = await state.aread(board)
    assert sum(keeper.reconnects for keeper in keepers) >= 1, "the killed process should have held players"
    versions = [version for keeper in keepers for version in keeper.versions]
    assert len(versions) > 120
    assert len(set(versions)) == len(versions)
    assert max(versions) <= meta.version
    for keeper in keepers:
        assert keeper.unlike(bits) == []
    away = [seconds for keeper in keepers for seconds in keeper.away]
    record_property("acknowledged_changes", len(versions))
    record_property("players_reconnected", len(away))
    record_property("seconds_to_reconnect_max", round(max(away), 3))
    record_property("in_doubt_changes", sum(1 for k in keepers for _, doubt in k.last.values() if doubt is not None))
    for keeper in keepers:
        await keeper.player.catch_up(meta.version)
        assert bytes(keeper.player.replica.bits) == bits
        await keeper.player.leave()
