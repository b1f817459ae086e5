"""Banned players over WebSockets: refused with BANNED, still watching, and bans taking hold within seconds."""

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from board import moderation
from board.live import tally
from board.live.hub import hub_for
from board.models import Ban
from board.store import state
from board.store.state import Status
from tests.boards import bit, default_board
from tests.players import Player

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hubs")]

VANDAL = ("203.0.113.9", 51000)
NEIGHBOUR = ("203.0.113.10", 51000)


async def result_of(player, index, value=1):
    await player.send_set(index, value)
    return (await player.receive_result())[2]


async def banned_within(player, seconds, index=0):
    """Keep changing a box until the change comes back BANNED; False if it never does in time."""
    try:
        async with asyncio.timeout(seconds):
            while await result_of(player, index, index % 2) != Status.BANNED:
                index += 1
                await asyncio.sleep(0.1)
    except TimeoutError:
        return False
    return True


async def test_a_banned_players_changes_are_refused_with_banned():
    board = await default_board()
    await sync_to_async(moderation.ban)("203.0.113.9", "scribbling")
    vandal = await Player(client=VANDAL).join(board)
    neighbour = await Player(client=NEIGHBOUR).join(board)

    assert await result_of(vandal, 5) == Status.BANNED
    assert await result_of(neighbour, 6) == Status.APPLIED
    assert (bit("main", 5), bit("main", 6)) == (0, 1)
    meta = await state.ameta(board)
    assert (meta.version, meta.count) == (1, 1)
    await vandal.leave()
    await neighbour.leave()


async def test_a_banned_player_still_watches_the_board():
    board = await default_board()
    await sync_to_async(moderation.ban)("203.0.113.9", "scribbling")
    vandal = await Player(client=VANDAL).join(board)
    neighbour = await Player(client=NEIGHBOUR).join(board)

    await neighbour.send_set(77, 1)

    await vandal.wait_for_version(1)
    assert vandal.replica.get(77) == 1
    await vandal.leave()
    await neighbour.leave()


async def test_refused_and_accepted_results_keep_the_order_changes_were_sent():
    board = await default_board()
    vandal = await Player(client=VANDAL).join(board)
    assert await result_of(vandal, 1) == Status.APPLIED
    await sync_to_async(moderation.ban)("203.0.113.0/24", "scribbling")
    assert await banned_within(vandal, 5, index=2)
    for index in (10, 11, 12):
        await vandal.send_set(index, 1)
    results = [await vandal.receive_result() for _ in range(3)]
    assert [(index, status) for index, _, status, _ in results] == [(i, Status.BANNED) for i in (10, 11, 12)]
    await vandal.leave()


async def test_a_ban_reaches_a_player_already_connected_within_seconds():
    board = await default_board()
    vandal = await Player(client=VANDAL).join(board)
    assert await result_of(vandal, 5) == Status.APPLIED

    await sync_to_async(moderation.ban)("203.0.113.9", "scribbling")

    assert await banned_within(vandal, 3)
    await vandal.leave()


async def test_a_ban_made_without_the_announcement_still_takes_hold_at_the_next_refresh(settings):
    settings.BOARD_BAN_REFRESH_SECONDS = 1
    board = await default_board()
    vandal = await Player(client=VANDAL).join(board)
    assert await result_of(vandal, 5) == Status.APPLIED

    # As if the board.bans event were lost: only the database knows.
    await Ban.objects.acreate(network="203.0.113.9", reason="scribbling")

    assert await banned_within(vandal, 5)
    await vandal.leave()


async def test_a_ban_list_left_unused_for_long_is_reloaded_before_the_next_change_is_judged(settings):
    settings.BOARD_BAN_REFRESH_SECONDS = 1
    board = await default_board()
    vandal = await Player(client=VANDAL).join(board)
    assert await result_of(vandal, 5) == Status.APPLIED
    await asyncio.sleep(2.2)  # more than twice the refresh time with no changes at all

    await Ban.objects.acreate(network="203.0.113.9", reason="scribbling")

    assert await result_of(vandal, 6) == Status.BANNED
    await vandal.leave()


async def test_a_lifted_ban_lets_the_player_change_boxes_again():
    board = await default_board()
    ban = await sync_to_async(moderation.ban)("203.0.113.9", "scribbling")
    vandal = await Player(client=VANDAL).join(board)
    assert await result_of(vandal, 5) == Status.BANNED

    await sync_to_async(moderation.lift)([ban], timezone.now())

    async with asyncio.timeout(3):
        while await result_of(vandal, 5) != Status.APPLIED:
            await asyncio.sleep(0.1)
    assert bit("main", 5) == 1
    await vandal.leave()


async def test_an_expired_ban_refuses_nothing():
    board = await default_board()
    await sync_to_async(moderation.ban)("203.0.113.9", "old", expires=timezone.now() - timedelta(minutes=1))
    vandal = await Player(client=VANDAL).join(board)
    assert await result_of(vandal, 5) == Status.APPLIED
    await vandal.leave()


async def test_a_ban_ends_when_it_expires_without_a_reload(settings):
    board = await default_board()
    await sync_to_async(moderation.ban)("203.0.113.9", "brief", expires=timezone.now() + timedelta(seconds=1))
    vandal = await Player(client=VANDAL).join(board)
    assert await result_of(vandal, 5) == Status.BANNED
    await asyncio.sleep(1.1)
    assert await result_of(vandal, 5) == Status.APPLIED
    await vandal.leave()


async def test_an_ipv6_ban_covers_the_whole_slash_64_and_nothing_else():
    board = await default_board()
    await sync_to_async(moderation.ban)("2001:db8:1:2::1", "scribbling")
    same = await Player(client=("2001:db8:1:2:ffff::9", 5000)).join(board)
    other = await Player(client=("2001:db8:1:3::1", 5000)).join(board)
    assert await result_of(same, 5) == Status.BANNED
    assert await result_of(other, 6) == Status.APPLIED
    await same.leave()
    await other.leave()


async def test_a_player_without_a_known_address_is_never_banned():
    board = await default_board()
    await sync_to_async(moderation.ban)("203.0.113.9", "scribbling")
    anonymous = await Player().join(board)
    assert await result_of(anonymous, 5) == Status.APPLIED
    await anonymous.leave()


async def test_the_networks_that_change_boxes_are_tallied_for_moderators():
    board = await default_board()
    vandal = await Player(client=VANDAL).join(board)
    neighbour = await Player(client=NEIGHBOUR).join(board)
    for index in range(5):
        await result_of(vandal, index)
    await result_of(neighbour, 100)

    await (await hub_for("main")).tally.flush()

    assert await sync_to_async(tally.recent)("main") == [("203.0.113.9/32", 5), ("203.0.113.10/32", 1)]
    await vandal.leave()
    await neighbour.leave()
