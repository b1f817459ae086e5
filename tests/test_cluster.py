"""The stack as shipped on a real Redis Cluster: three primaries, a replica each (harness/cluster.py).

Each test starts a cluster of its own (about 2 s, the ``cluster`` fixture of
tests/conftest.py) and real daphne processes on it, with DEBUG off and the
shipped limits, as ``manage.py serve`` runs them. tests/test_multiprocess.py,
test_convergence.py, test_recovery.py and test_faults.py run on a cluster as
well as on one Redis.
"""

import asyncio
import json
import random
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from channels_redis.utils import _consistent_hash
from django.urls import reverse

from board.live import events
from board.models import Board
from board.store import changelog, state
from board.store.state import Status
from harness.players import ConnectionClosed, NetPlayer, fetch_state
from harness.servers import BASE_DIR, server_environment
from tests import test_faults as faults
from tests.conftest import use_redis

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("hubs")]

BITS, META = "cb:{main}:bits", "cb:{main}:meta"
FIGURES = reverse("admin:board_board_live_figures")


def on_primary(cluster, key):
    """``key``'s value read from the primary that serves its slot, with a plain client: what the cluster holds."""
    with cluster.primary_of(key).client() as client:
        return client.execute_command("GET", key, NEVER_DECODE=True) if key.endswith(":bits") else client.hgetall(key)


def manage(*args):
    """A manage.py command run as an operator runs it, against the cluster (DEBUG off)."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=server_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def set_box(player, index, value):
    """Send one change until the board takes it: during a failover it may be answered UNAVAILABLE."""
    async with asyncio.timeout(20):
        while True:
            await player.send_set(index, value)
            result = await player.receive_result()
            if result[2] != Status.UNAVAILABLE:
                return result
            await asyncio.sleep(0.3)


async def rejoin(url, slug="main"):
    """Reconnect as the page does after a 4503, until a process answers with a hello."""
    async with asyncio.timeout(30):
        while True:
            try:
                return await NetPlayer(url, slug=slug).join()
            except (ConnectionClosed, OSError):
                await asyncio.sleep(0.3)


async def test_the_state_endpoint_answers_from_the_primary_of_the_boards_slot(cluster, daphnes):
    (server,) = daphnes(1)
    bits, epoch, version = await asyncio.to_thread(fetch_state, server.url)
    assert len(bits) == 100_000 // 8
    assert on_primary(cluster, BITS) == bits
    assert on_primary(cluster, META)["epoch"] == str(epoch)
    assert version == 0


async def test_a_snapshot_and_its_restore_work_on_the_cluster(cluster, daphnes):
    (server,) = daphnes(1)
    alice = await NetPlayer(server.url).join()
    await alice.load()
    for index in (10, 20):
        await alice.send_set(index, 1)
        assert (await alice.receive_result())[2] == Status.APPLIED
    taken = manage("snapshot", "--note", "before the cluster test's change")
    snapshot_id = re.search(r"Snapshot #(\d+)", taken).group(1)
    await alice.send_set(30, 1)
    assert (await alice.receive_result())[2] == Status.APPLIED

    manage("restoresnapshot", snapshot_id, "--yes")

    assert (await alice.receive_control("resync"))["type"] == "resync"
    await alice.load()
    assert [alice.replica.get(index) for index in (10, 20, 30)] == [1, 1, 0]
    assert bytes(alice.replica.bits) == on_primary(cluster, BITS)
    assert on_primary(cluster, META)["count"] == "2"
    await alice.leave()


async def test_players_resync_and_carry_on_when_the_boards_primary_fails_over(cluster, daphnes):
    # The node that dies also carries the board's group in the channel layer:
    # its shard must move to another node for the processes to hear each other.
    doomed = cluster.primary_of(BITS)
    shard = _consistent_hash(f"cb:layer:__group__{events.group_name('main')}", len(cluster.nodes))
    use_redis(cluster.url_listing(doomed, shard))
    first, second = daphnes(2, BOARD_BEACON_SECONDS=1)
    alice = await NetPlayer(first.url).join()
    bob = await NetPlayer(second.url).join()
    await alice.load()
    await bob.load()
    await set_box(alice, 7, 1)
    await bob.wait_for_version(1)
    cluster.wait_replicated(doomed)  # the replica has the change

    promoted = cluster.kill_primary_of(BITS)
    assert promoted is not doomed and doomed.process.poll() is not None

    # Each player is either told to resync or closed with 4503 and reconnects.
    alice, bob = await carry_on(alice, first.url), await carry_on(bob, second.url)
    _, _, status, version = await set_box(alice, 8, 1)
    assert status == Status.APPLIED
    # Through the channel layer, not from a state fetched again.
    await bob.wait_for_version(version)
    await alice.wait_for_version(version)
    assert [bob.replica.get(index) for index in (7, 8)] == [1, 1]
    assert bob.replica.bits == alice.replica.bits
    assert bytes(bob.replica.bits) == on_primary(cluster, BITS)
    # A load balancer keeps both processes: neither is left unhealthy or unready.
    for server in (first, second):
        assert await asyncio.to_thread(answers, f"{server.url}/healthz") == 200
        assert await asyncio.to_thread(answers, f"{server.url}/readyz") == 200
    await alice.leave()
    await bob.leave()


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def carry_on(player, url):
    """The player once told of the failover: a resync on its socket, or a 4503 close and a new socket.

    Then it fetches the state, as the page does, through the 503s of a process
    still finding the new primary.
    """
    async with asyncio.timeout(15):
        while True:
            try:
                frame = await player.next_frame(timeout=15)
            except ConnectionClosed:
                player = await rejoin(url)
                break
            if isinstance(frame, dict) and frame["type"] == "resync":
                break
    return await load_through_503s(player)


async def load_through_503s(player):
    """Fetch the state as the page does, through the 503s of a process still finding the new primary."""
    async with asyncio.timeout(20):
        while True:
            try:
                await player.load()
                return player
            except urllib.error.HTTPError as error:
                assert error.code == 503
                await asyncio.sleep(0.3)


class Survivor(faults.Keeper):
    """A Keeper (tests/test_faults.py) that joins again through a failover's 4503 closes and 503 states."""

    async def connect(self):
        self.player = await load_through_503s(await rejoin(self.url, slug="kill"))


async def test_no_applied_change_is_lost_and_every_player_converges_when_the_primary_fails_over_mid_game(
    cluster, daphnes, record_property
):
    """Players keep changing boxes while the board's primary is killed and its replica promoted."""
    board = await Board.objects.acreate(slug="kill", size=2048)
    doomed = cluster.primary_of("cb:{kill}:bits")
    shard = _consistent_hash(f"cb:layer:__group__{events.group_name('kill')}", len(cluster.nodes))
    use_redis(cluster.url_listing(doomed, shard))
    servers = daphnes(2, BOARD_BEACON_SECONDS=1)
    rng = random.Random(11)
    keepers = [
        Survivor(servers[k % 2].url, list(range(k * 100, k * 100 + 100)), random.Random(rng.random())) for k in range(8)
    ]
    for keeper in keepers:
        await keeper.connect()

    loop = asyncio.get_running_loop()
    games = asyncio.gather(*(keeper.play(loop.time() + 12) for keeper in keepers))
    await asyncio.sleep(3)
    promoted = await asyncio.to_thread(cluster.kill_primary_of, "cb:{kill}:bits")
    before = sum(len(keeper.versions) for keeper in keepers)
    await games

    bits, meta = await state.aread(board)
    assert promoted is not doomed
    assert bits == on_primary(cluster, "cb:{kill}:bits")
    versions = [version for keeper in keepers for version in keeper.versions]
    assert before > 40 and len(versions) - before > 40, "the game went on both before and after the failover"
    assert len(set(versions)) == len(versions)
    assert max(versions) <= meta.version
    # Lost 0: every box holds what the cluster acknowledged last (or the one change in doubt).
    for keeper in keepers:
        assert keeper.unlike(bits) == []
    record_property("acknowledged_changes", len(versions))
    record_property("players_reconnected", sum(keeper.reconnects for keeper in keepers))
    for keeper in keepers:
        await keeper.player.catch_up(meta.version)
        assert bytes(keeper.player.replica.bits) == bits
        await keeper.player.leave()


@pytest.mark.django_db
def test_a_cluster_none_of_whose_nodes_answers_is_unavailable_to_sync_and_async_callers(cluster, main_board):
    # redis-py says RedisClusterException, which callers would take for a bug
    # (the admin's 500, the hub's tracebacks), not StateUnavailable.
    state.meta(main_board)
    cluster.stop()
    with pytest.raises(state.StateUnavailable):
        state.meta(main_board)
    state.reset_clients()
    with pytest.raises(state.StateUnavailable):
        state.meta(main_board)  # a client made while every node is down
    with pytest.raises(state.StateUnavailable):
        asyncio.run(state.aread(main_board))


async def test_a_board_made_in_the_database_gets_its_state_on_the_cluster(cluster, transactional_db):
    board = await Board.objects.acreate(slug="extra", size=50)
    bits, meta = await state.aread(board)
    assert meta.size == 50
    assert on_primary(cluster, "cb:{extra}:bits") == bits


# -- in this process, on the cluster ---------------------------------------------


@pytest.mark.django_db
def test_the_change_log_reads_the_same_entries_from_the_cluster(cluster, main_board):
    author = state.Author("198.51.100.0/24", "198.51.100.7", "cccccccccccc")
    state.apply(main_board, [(3, 1), (4, 1)], [author, author])

    entries = list(changelog.read("main"))
    newest_first = list(changelog.read("main", reverse=True))

    assert [entry.reason for entry in entries[:1]] == ["created"]
    assert [(change.box, change.value, change.version) for change in entries[1:]] == [(3, 1, 1), (4, 1, 2)]
    assert entries[1][4:] == tuple(author)
    assert newest_first == entries[::-1]


@pytest.mark.django_db
def test_deleting_a_board_removes_every_key_of_it_from_the_cluster(cluster, small_board):
    state.apply(small_board, [(1, 1)])
    with cluster.primary_of("cb:{small}:bits").client() as client:
        assert client.exists("cb:{small}:bits", "cb:{small}:meta", "cb:{small}:log") == 3

        state.forget(small_board)

        assert client.keys("cb:{small}:*") == []


@pytest.mark.django_db
def test_the_live_page_shows_the_memory_of_the_fullest_primary(cluster, main_board, moderator_client):
    state.meta(main_board)
    fullest = cluster.primary_of(BITS)
    with fullest.client() as client:
        client.config_set("maxmemory", 100 * 2**20)
        used = client.info("memory")["used_memory"]

    shown = moderator_client.get(FIGURES).json()["redis"]

    assert shown["max"] == 100 * 2**20
    assert abs(shown["used"] - used) < 2**20


def test_the_pubsub_benchmark_reports_each_way_of_publishing():
    """A smoke run of benchmarks/cluster_pubsub.py (its figures are in docs/deployment.md)."""
    done = subprocess.run(
        [sys.executable, "benchmarks/cluster_pubsub.py", "--messages", "2000", "--subscribers", "2"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) == {"messages", "bytes", "subscribers", "one_server", "cluster_publish", "cluster_spublish"}
    assert result["one_server"]["other_nodes_cpu_s"] == 0
    assert all(result[way]["messages_per_s"] > 0 for way in ("one_server", "cluster_publish", "cluster_spublish"))
