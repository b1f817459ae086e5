"""Several daphne processes sharing one Redis, or one Redis Cluster, serve one board."""

import asyncio

import pytest

from board.models import Board
from board.store.state import Status
from harness.players import NetPlayer

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.usefixtures("redis_backend", "hubs")]


async def test_a_change_on_one_process_reaches_a_player_on_another(daphnes):
    first, second = daphnes(2)
    alice = await NetPlayer(first.url).join()
    bob = await NetPlayer(second.url).join()
    await alice.load()
    await bob.load()
    await alice.send_set(51_234, 1)
    assert (await alice.receive_result())[2] == Status.APPLIED
    await bob.wait_for_version(1)
    assert bob.replica.get(51_234) == 1
    await alice.leave()
    await bob.leave()


async def test_players_on_both_processes_see_each_others_changes_in_order(daphnes):
    first, second = daphnes(2)
    players = [await NetPlayer(server.url).join() for server in (first, second, first, second)]
    for player in players:
        await player.load()
    for round_ in range(5):
        for k, player in enumerate(players):
            await player.send_set(round_ * 10 + k, 1)
    for player in players:
        await player.wait_for_version(20)
    expected = players[0].replica.bits
    assert all(player.replica.bits == expected for player in players)
    assert players[0].replica.count == 20
    for player in players:
        await player.leave()


async def test_player_counts_add_up_across_processes(daphnes):
    first, second = daphnes(2, BOARD_BEACON_SECONDS=1)
    players = [await NetPlayer(server.url).join() for server in (first, second, second)]
    beacon = None
    async with asyncio.timeout(10):
        while beacon is None or beacon["players"] != 3:
            beacon = await players[0].receive_control("beacon")
    for player in players:
        await player.leave()


async def test_a_board_created_in_the_database_is_served_by_every_process(daphnes):
    first, second = daphnes(2)
    await Board.objects.acreate(slug="extra", size=50)
    alice = await NetPlayer(first.url, slug="extra").join()
    bob = await NetPlayer(second.url, slug="extra").join()
    await bob.load()
    assert bob.hello["size"] == 50
    await alice.send_set(49, 1)
    await bob.wait_for_version(1)
    assert bob.replica.get(49) == 1
    await alice.leave()
    await bob.leave()
