"""Recovery: Redis dies and an empty one takes its place; the boards come back as of their last snapshot.

On a Redis Cluster that is the whole cluster lost: every node killed and
started again empty, the same cluster (harness/cluster.py).
"""

import asyncio
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import sync_to_async

from board.live import protocol
from board.management.serving import LocalRedis
from board.models import Board, Snapshot
from board.store import snapshots, state
from board.store.state import Status
from harness.cluster import LocalCluster
from harness.players import ConnectionClosed, NetPlayer
from tests.conftest import use_redis

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.usefixtures("hubs")]


@pytest.fixture(params=["redis", "cluster"])
def doomed_redis(request, tmp_path):
    """A Redis, or a Redis Cluster, of this test's own, to kill and replace with an empty one on the same ports."""
    if request.param == "cluster":
        yield request.getfixturevalue("cluster")
        return
    server = LocalRedis(tmp_path / "redis").start()
    use_redis(server.url)
    yield server
    server.stop(kill=True)


def replace_with_empty(server):
    server.stop(kill=True)
    if isinstance(server, LocalCluster):
        # A replica writes what it synced to dump.rdb; nothing may survive.
        server.lose_data()
    server.start()


def state_headers(base_url):
    """The state as a client fetches it, retrying the 503s of a server still reconnecting to Redis."""
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"{base_url}/b/main/state", timeout=10) as response:
                return response.read(), response.headers["X-Board-Epoch"], int(response.headers["X-Board-Version"])
        except urllib.error.HTTPError as error:
            if error.code != 503 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


async def join(base_url):
    """Join as the browser does, reconnecting after a 4503 (storage unreachable) close."""
    async with asyncio.timeout(10):
        while True:
            try:
                return await NetPlayer(base_url).join()
            except ConnectionClosed as closed:
                assert closed.code == 4503
                await asyncio.sleep(0.2)


async def test_a_board_comes_back_as_of_its_last_snapshot_after_redis_is_lost(doomed_redis, daphnes):
    first, second = daphnes(2, BOARD_BEACON_SECONDS=1)
    alice = await NetPlayer(first.url).join()
    for index in (10, 20, 30):
        await alice.send_set(index, 1)
        assert (await alice.receive_result())[2] == Status.APPLIED
    board = await sync_to_async(Board.objects.default)()
    saved = await sync_to_async(snapshots.take)(board, Snapshot.Reason.PERIODIC)
    # Changed after the snapshot: these are what a Redis loss costs.
    await alice.send_set(40, 1)
    await alice.receive_result()
    await alice.leave()

    await asyncio.to_thread(replace_with_empty, doomed_redis)
    assert state.sync_client().dbsize() == 0

    # Both processes notice at the same moment, several times over.
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(state_headers, [first.url, second.url] * 4))
    assert {bits for bits, _, _ in answers} == {saved.bits()}
    assert {version for _, _, version in answers} == {saved.version}
    # Exactly one of them restored it: one epoch for all.
    assert len({epoch for _, epoch, _ in answers}) == 1


async def test_a_player_changes_the_recovered_board_and_not_an_empty_one(doomed_redis, daphnes):
    (server,) = daphnes(1)
    board = await sync_to_async(Board.objects.default)()
    await sync_to_async(state.apply)(board, [(7, 1), (8, 1)])
    await sync_to_async(snapshots.take)(board, Snapshot.Reason.PERIODIC)

    await asyncio.to_thread(replace_with_empty, doomed_redis)

    bob = await join(server.url)
    await bob.send_set(9, 1)
    assert (await bob.receive_result())[2] == Status.APPLIED
    meta = await state.ameta(board)
    assert meta.count == 3
    assert [state.sync_client().getbit(state.keys("main")[0], i) for i in (7, 8, 9)] == [1, 1, 1]
    await bob.leave()


async def rejoin(url):
    """Reconnect like the page does after a 4503: with backoff until the server answers."""
    while True:
        try:
            return await NetPlayer(url).join()
        except ConnectionClosed:
            await asyncio.sleep(0.5)


async def test_a_connected_player_is_told_of_the_recovered_board(doomed_redis, daphnes):
    (server,) = daphnes(1, BOARD_BEACON_SECONDS=1)
    board = await sync_to_async(Board.objects.default)()
    await sync_to_async(state.apply)(board, [(7, 1)])
    saved = await sync_to_async(snapshots.take)(board, Snapshot.Reason.PERIODIC)
    alice = await NetPlayer(server.url).join()
    await alice.load()
    old_epoch = alice.replica.epoch

    await asyncio.to_thread(replace_with_empty, doomed_redis)

    # Even with nobody changing anything the player finds out: either the next
    # beacon shows a new epoch, or (if a beat failed while Redis was away) the
    # socket is closed with 4503 and the hello on reconnecting shows it.
    async with asyncio.timeout(15):
        epoch = old_epoch
        while epoch == old_epoch:
            try:
                epoch = (await alice.receive_control("beacon"))["epoch"]
            except ConnectionClosed as closed:
                assert closed.code == protocol.CLOSE_UNAVAILABLE
                alice = await rejoin(server.url)
                epoch = alice.hello["epoch"]
    await alice.load()
    assert alice.replica.bits == bytearray(saved.bits())
    await alice.leave()
